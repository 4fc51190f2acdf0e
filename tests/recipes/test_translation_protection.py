"""Placeholder protection of the translation recipe (`recipes/translation/protection.py`).

Hand-written masks and unmasks; the Python and the TensorFlow implementations
agree string for string; the placeholders are single SentencePiece pieces;
the exported SavedModel's `translate` signature restores a source's spans;
run folders without the option load without protection.
"""

import gc
import json
import random

import keras
import pytest

from recipes.runner import ConfigError
from recipes.runner import config_to_dict
from recipes.runner import load_config
from recipes.translation import TranslationConfig
from recipes.translation.export import SIGNATURE
from recipes.translation.export import export_saved_model
from recipes.translation.export import load_run
from recipes.translation.export import save_run_files
from recipes.translation.export import search_options
from recipes.translation.model import build_translator
from recipes.translation.pipeline import translate_batches
from recipes.translation.protection import SpanProtection
from recipes.translation.protection import masked_pairs
from recipes.translation.protection import placeholder_symbols
from recipes.translation.scoring import span_copies
from toolkit.data import ParallelTexts
from toolkit.models import TranslatorPreprocessor
from toolkit.models.sentencepiece import tokenizer_from_proto
from toolkit.models.sentencepiece import train_proto
from toolkit.models.translator_preprocessor import detokenize_pieces
from toolkit.models.translator_preprocessor import target_pieces

# === Masking one source at a time: hand-written expectations ===


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "source, masked, spans",
    [
        ("Use --all to list %d files.", "Use ｟0｠ to list ｟1｠ files.", ["--all", "%d"]),
        # Adjacent spans, spans at the start and the end, punctuation attached.
        ("%s%d", "｟0｠｟1｠", ["%s", "%d"]),
        ("%s: cannot open %s.", "｟0｠: cannot open ｟1｠.", ["%s", "%s"]),
        ("-l, --list", "｟0｠, ｟1｠", ["-l", "--list"]),
        ("(see --output=FILE).", "(see ｟0｠).", ["--output=FILE"]),
        (
            "%1$s %(name)s {0} {name} {0:.2f} $1 ${VAR} %-5.2f %lu %%",
            "｟0｠ ｟1｠ ｟2｠ ｟3｠ ｟4｠ ｟5｠ ｟6｠ ｟7｠ ｟8｠ ｟9｠",
            ["%1$s", "%(name)s", "{0}", "{name}", "{0:.2f}", "$1", "${VAR}", "%-5.2f", "%lu", "%%"],
        ),
        (
            "See https://www.gnu.org/software/tar/. Or www.example.org!",
            "See ｟0｠. Or ｟1｠!",
            ["https://www.gnu.org/software/tar/", "www.example.org"],
        ),
        ("Report bugs to <bug-tar@gnu.org>.", "Report bugs to <｟0｠>.", ["bug-tar@gnu.org"]),
        (
            "cannot open /usr/share/doc, ~/.config/app.ini or C:\\Temp\\x.txt",
            "cannot open ｟0｠, ｟1｠ or ｟2｠",
            ["/usr/share/doc", "~/.config/app.ini", "C:\\Temp\\x.txt"],
        ),
        ("Copyright (C) 1999-2004 Takashi", "Copyright (C) ｟0｠-｟1｠ Takashi", ["1999", "2004"]),
        # Integers only: a decimal point or a version's dots stay text.
        ("Size: 1.5 MB, version 2.4", "Size: ｟0｠.｟1｠ MB, version ｟2｠.｟3｠", list("1524")),
        # Not spans: a word's hyphen, `and/or`, a percent sign, digits in a word.
        ("e-mail and/or x86 50% done", "e-mail and/or x86 ｟0｠% done", ["50"]),
        # Unicode text around spans (the pattern's classes are ASCII in both engines).
        ("Datei „%s“ über -l für 3 €", "Datei „｟0｠“ über ｟1｠ für ｟2｠ €", ["%s", "-l", "3"]),
        ("ü-l", "ü｟0｠", ["-l"]),  # ü is no ASCII word character: the dash starts an option
        ("", "", []),
        ("no spans here", "no spans here", []),
        # The separator of the graph version is removed in both.
        ("a\x1fb %s", "ab ｟0｠", ["%s"]),
    ],
)
def test_mask_sources(source, masked, spans):
    result = SpanProtection().mask([source])
    assert result.sources == [masked]
    assert result.spans == [spans]
    assert result.targets is None


@pytest.mark.no_keras_state
def test_spans_past_the_placeholders_stay_text():
    result = SpanProtection(max_placeholders=2).mask(["1 2 3 %s"])
    assert result.sources == ["｟0｠ ｟1｠ 3 %s"]
    assert result.spans == [["1", "2", "3", "%s"]]
    assert SpanProtection(max_placeholders=2).unmask(result.sources, result.spans) == ["1 2 3 %s"]


@pytest.mark.no_keras_state
def test_markup_is_a_class_off_by_default():
    text = ["<b>%s</b> &amp; more"]
    assert SpanProtection().mask(text).spans == [["%s", "/b"]]  # `/b` read as a path
    with_markup = SpanProtection(("formats", "markup")).mask(text)
    assert with_markup.sources == ["｟0｠｟1｠｟2｠ ｟3｠ more"]
    assert with_markup.spans == [["<b>", "%s", "</b>", "&amp;"]]


# === Training pairs ===


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "source, target, masked_source, masked_target, spans",
    [
        # Reordered in the target: the numbers follow the source.
        (
            "copy %s to %d",
            "%d nach %s kopieren",
            "copy ｟0｠ to ｟1｠",
            "｟1｠ nach ｟0｠ kopieren",
            ["%s", "%d"],
        ),
        # A decimal comma: both integers are on both sides.
        (
            "Size: 1.5 MB",
            "Größe: 1,5 MB",
            "Size: ｟0｠.｟1｠ MB",
            "Größe: ｟0｠,｟1｠ MB",
            ["1", "5"],
        ),
        # A span on the source side only stays text, and the numbers skip it.
        (
            "-l and 2 and -v",
            "-l und zwei und -v",
            "｟0｠ and 2 and ｟1｠",
            "｟0｠ und zwei und ｟1｠",
            ["-l", "-v"],
        ),
        # A span on the target side only stays text.
        ("Version two", "Version 2", "Version two", "Version 2", []),
        # Repeated spans pair up in order; a target's extra occurrence stays text.
        ("%s or %s", "%s oder %s", "｟0｠ or ｟1｠", "｟0｠ oder ｟1｠", ["%s", "%s"]),
        ("5", "5 mal 5", "｟0｠", "｟0｠ mal 5", ["5"]),
        # A span inside a target word is not a span there (`\b`).
        ("%d of 5", "%d von 15", "｟0｠ of 5", "｟0｠ von 15", ["%d"]),
        ("", "", "", "", []),
    ],
)
def test_mask_training_pairs(source, target, masked_source, masked_target, spans):
    protection = SpanProtection()
    result = protection.mask([source], [target])
    assert result == ([masked_source], [masked_target], [spans])
    # Unmasking either side gives it back.
    assert protection.unmask(result.sources, result.spans) == [source]
    assert protection.unmask(result.targets, result.spans) == [target]


@pytest.mark.no_keras_state
def test_training_pairs_past_the_placeholders_stay_text():
    result = SpanProtection(max_placeholders=1).mask(["%s %d"], ["%d %s"])
    assert result == (["｟0｠ %d"], ["%d ｟0｠"], [["%s"]])


@pytest.mark.no_keras_state
def test_masked_pairs_of_a_split():
    pairs = ParallelTexts(["open %s"], ["%s öffnen"], "pairs.tsv")
    masked = masked_pairs(pairs, SpanProtection())
    assert (masked.sources, masked.targets, masked.source) == (
        ["open ｟0｠"],
        ["｟0｠ öffnen"],
        "pairs.tsv",
    )
    assert masked_pairs(pairs, None) is pairs


# === Unmasking ===


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "translation, spans, expected",
    [
        ("Mit ｟1｠ ｟0｠ auflisten.", ["%d", "--all"], "Mit --all %d auflisten."),
        ("｟0｠｟0｠", ["-l"], "-l-l"),  # a repeated placeholder repeats its span
        ("x ｟5｠ y", ["-l"], "x  y"),  # an index the source does not have: dropped
        ("｟0｠", [], ""),
        ("keine", ["%s"], "keine"),
        ("｟12345｠ ｟0012｠", ["a"] * 13, "｟12345｠ a"),  # at most 4 digits are a placeholder
        ("｟｟0｠｠", ["x"], "｟x｠"),
        ("\x1f｟0｠", ["x"], "x"),
        ("", [], ""),
    ],
)
def test_unmask(translation, spans, expected):
    assert SpanProtection().unmask([translation], [spans]) == [expected]


@pytest.mark.no_keras_state
def test_mismatched_lengths_are_errors():
    protection = SpanProtection()
    with pytest.raises(ValueError, match=r"`targets` expected one string per source \(2\)"):
        protection.mask(["a", "b"], ["a"])
    with pytest.raises(ValueError, match=r"`spans` expected one list per translation \(1\)"):
        protection.unmask(["a"], [])
    with pytest.raises(ValueError, match=r"`classes` expected one or more of \['urls'"):
        SpanProtection(("urls", "names"))
    with pytest.raises(ValueError, match=r"`max_placeholders` expected an integer in \[1, 1000\]"):
        SpanProtection(max_placeholders=0)


# === Python and TensorFlow agree ===

EQUIVALENCE_TEXTS = [
    "Use --all to list %d files.",
    "%s%d",
    "%s.",
    "-l, -----------listliste",
    "Copyright (C)99999-Takashi",
    "%d-%d-%UID -V",
    "See https://example.org/a/b. Or www.gnu.org!",
    "« /usr/share/doc » ~/.config/app ./configure ../lib C:\\Windows\\Temp\\x.txt",
    "",
    "é-l über -x 日本語 %s",
    "e-mail and/or 1/2 and 50% done, 1.5 and 1,000 and v2.4.1",
    "{0} {name} {0:.2f} {} $1 ${VAR} $HOME %(name)s %1$s %1 %% %{x} %@ %-5.2f %lu",
    "a\x1fb %s\x1f%d",
    "<b>%s</b>",
    " ".join(str(number) for number in range(40)),  # more spans than placeholders
    "｟0｠ literal ｟",
    "--mail=user@x.org --format=%s.",
    "\n%s\t-l\r",
]
FUZZ_PIECES = [
    "%s", "%d", "-l", "--x", "{0}", "1", "23", ".", " ", ",", "é", "ü", "/usr", "http://a.b/c",
    "a@b.de", "｟0｠", "｟", "｠", "\x1f", "$1", "x", "-", "/", "%", "{", "}", "~/", "C:\\", "日本",
    "www.", "\t", "'", "\"",
]  # fmt: skip


def equivalence_texts():
    rng = random.Random(0)
    fuzz = ["".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(0, 14))) for _ in range(300)]
    return EQUIVALENCE_TEXTS + fuzz


def to_strings(tensor):
    return [value.decode("utf-8") for value in tensor.numpy().tolist()]


@pytest.mark.parametrize("classes", [None, ("formats", "markup", "numbers")])
def test_python_and_tensorflow_mask_alike(classes):
    import tensorflow as tf

    protection = SpanProtection(max_placeholders=8) if classes is None else SpanProtection(classes)
    texts = equivalence_texts()
    expected = protection.mask(texts)
    masked, spans = protection.mask_tensor(tf.constant(texts, tf.string))
    assert to_strings(masked) == expected.sources
    assert [[span.decode("utf-8") for span in row] for row in spans.to_list()] == expected.spans
    assert sum(map(len, expected.spans)) > 400  # the cases hold spans, of many kinds
    assert any(len(row) > protection.max_placeholders for row in expected.spans)

    # Unmasking: translations with placeholders the source has and has not.
    rng = random.Random(1)
    extras = [
        "",
        "x ｟0｠ y",
        "｟3｠｟1｠｟9｠",
        "｟12345｠ ｟0012｠",
        "｟｟2｠｠",
        "\x1f｟0｠",
        "｟7｠.",
    ]
    translations = [rng.choice(extras) + text + rng.choice(extras) for text in expected.sources]
    restored = protection.unmask_tensor(tf.constant(translations, tf.string), spans)
    assert to_strings(restored) == protection.unmask(translations, expected.spans)
    # And the masked sources themselves come back whole (unless they held `｟k｠`).
    roundtrip = to_strings(protection.unmask_tensor(masked, spans))
    for text, back in zip(texts, roundtrip):
        if "｟" not in text:
            assert back == text.replace("\x1f", "")


def test_tensorflow_mask_of_an_empty_batch_and_of_empty_strings():
    import tensorflow as tf

    protection = SpanProtection()
    masked, spans = protection.mask_tensor(tf.constant([], tf.string))
    assert masked.shape == (0,) and spans.shape[0] == 0
    assert protection.unmask_tensor(masked, spans).shape == (0,)
    masked, spans = protection.mask_tensor(tf.constant(["", ""]))
    assert to_strings(masked) == ["", ""] and spans.to_list() == [[], []]
    assert to_strings(protection.unmask_tensor(tf.constant(["｟0｠", ""]), spans)) == ["", ""]


# === SentencePiece pieces ===

PIECE_TEXTS = [
    "cannot open file ｟0｠: ｟1｠",
    "｟0｠ of ｟1｠ files copied (｟2｠%)",
    "use ｟0｠ to list all ｟1｠ entries",
    "Datei ｟0｠ wurde nicht gefunden.",
    "xy 78, (x). über",
] * 20


@pytest.mark.parametrize(
    "options",
    [{}, {"split_digits": True}, {"byte_fallback": True, "split_digits": True}],
    ids=["plain", "split_digits", "byte_fallback"],
)
def test_placeholders_are_single_pieces(options):
    import sentencepiece
    import tensorflow as tf

    symbols = placeholder_symbols(16)
    size = 400 if options.get("byte_fallback") else 200  # and 256 byte pieces
    proto = train_proto(PIECE_TEXTS, size, user_defined_symbols=symbols, **options)
    processor = sentencepiece.SentencePieceProcessor(model_proto=proto)
    tokenizer = tokenizer_from_proto(proto)
    symbol_ids = [processor.piece_to_id(symbol) for symbol in symbols]
    assert all(processor.id_to_piece(i) == s for i, s in zip(symbol_ids, symbols))
    # Glued to words, digits, punctuation and each other; ｟3｠ to ｟15｠ unseen in training.
    text = "x｟0｠y 7｟1｠8 (｟2｠). ｟3｠｟4｠｟10｠ ｟15｠, über｟5｠"
    pieces = processor.encode(text, out_type=str)
    assert [piece for piece in pieces if "｟" in piece or "｠" in piece] == [
        "｟0｠", "｟1｠", "｟2｠", "｟3｠", "｟4｠", "｟10｠", "｟15｠", "｟5｠",
    ]  # fmt: skip
    # The in-graph tokenizer (keras-hub, the SavedModel's) cuts alike.
    in_graph = tf.function(tokenizer)(tf.constant([text])).to_list()[0]
    assert in_graph == processor.encode(text)
    assert set(symbol_ids[:6]) | {symbol_ids[10], symbol_ids[15]} <= set(in_graph)
    # Joining the pieces, as the recipe's detokenizer does, gives the text back
    # (SentencePiece's normalization leaves the placeholders alone).
    assert to_strings(detokenize_pieces(target_pieces(tokenizer), [in_graph]))[0] == text


def test_byte_fallback_pieces_detokenize_to_their_characters():
    import tensorflow as tf

    tokenizer = tokenizer_from_proto(train_proto(PIECE_TEXTS, 400, byte_fallback=True))
    ids = tf.function(tokenizer)(tf.constant(["files ß日本 copied"])).to_list()[0]
    pieces = [str(tokenizer.id_to_token(i)) for i in ids]
    assert "<0xC3>" in pieces and "<0xE6>" in pieces  # ß and 日 are unseen: UTF-8 bytes
    assert to_strings(detokenize_pieces(target_pieces(tokenizer), [ids])) == ["files ß日本 copied"]


# === The recipe: SavedModel and run folders ===

TINY = dict(
    units=8,
    embedding_dim=4,
    source_vocabulary=120,
    target_vocabulary=120,
    beam_width=1,
    verbose=0,
    max_placeholders=8,
)
SOURCES = [
    "copy %s to /usr/lib now",
    "--verbose: 42 files",
    "see https://例え.jp/ü~x for 3 of {0} files",  # characters the vocabulary lacks
    "",
    "file ${HOME} 1 2 3 4 5 6 7 8 9 10",  # more spans than placeholders
]


@pytest.fixture
def echo_translator():
    """A Translator whose search copies the source ids, with one vocabulary on both sides.

    Its translation of a source is the masked source, so the final text must be
    the source itself: every span restored from it, wherever it was.
    """
    # tensorflow-text names a tokenizer's kernel resource after its op, and names
    # restart with each test's `clear_session`: a tokenizer of an earlier test,
    # collected later, would delete this one's resource of the same name.
    gc.collect()
    config = TranslationConfig(**TINY)
    protection = SpanProtection.from_config(config)
    training = protection.mask(SOURCES[:2] + ["files to copy", "see for of"] * 10).sources
    training += ["8 9 10"]  # kept as text: past the placeholders
    proto = train_proto(training, config.source_vocabulary, 1.0, protection.symbols())
    tokenizers = (tokenizer_from_proto(proto), tokenizer_from_proto(proto))
    for tokenizer in tokenizers:
        tokenizer.build(None)
    translator = build_translator(config, TranslatorPreprocessor(*tokenizers))
    translator.generate = lambda source_ids, **options: {
        "tokens": keras.ops.convert_to_tensor(source_ids, "int32")
    }
    return translator, config


@pytest.mark.tensorflow_only
def test_saved_model_restores_the_sources_spans(echo_translator, tmp_path):
    import tensorflow as tf

    translator, config = echo_translator
    python_path, _ = translate_batches(
        translator,
        SOURCES,
        search_options(config),
        protection=SpanProtection.from_config(config),
    )
    assert python_path == SOURCES
    export_saved_model(translator, config, tmp_path / "saved_model")
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    served = getattr(loaded, SIGNATURE)(tf.constant(SOURCES))["translation"]
    assert to_strings(served) == SOURCES
    assert to_strings(getattr(loaded, SIGNATURE)(tf.constant([], tf.string))["translation"]) == []


@pytest.mark.tensorflow_only
def test_without_protection_the_copies_are_the_vocabularys(echo_translator):
    translator, config = echo_translator
    plain, _ = translate_batches(translator, SOURCES[2:3], search_options(config))
    assert "例え" not in plain[0] and "https" not in plain[0]  # unknown pieces are dropped


def test_old_run_folders_load_without_protection(echo_translator, tmp_path):
    translator, config = echo_translator
    saved = config_to_dict(config)
    for name, keys in [("new", saved), ("old", {k: v for k, v in saved.items() if k != "protect"})]:
        folder = tmp_path / name
        folder.mkdir()
        save_run_files(folder, translator)
        (folder / "config.json").write_text(json.dumps(keys))
        _, loaded = load_run(folder)
        assert loaded.protect is (name == "new")
        assert (SpanProtection.from_config(loaded) is None) is (name == "old")


# === Config and scoring ===


@pytest.mark.no_keras_state
def test_config_keys():
    config = load_config(TranslationConfig, None, ["protect=false", "protected_spans=urls,markup"])
    assert config.protect is False and config.protected_spans == ("urls", "markup")
    assert SpanProtection.from_config(config) is None
    assert SpanProtection.from_config(TranslationConfig()).classes == (
        "urls",
        "emails",
        "formats",
        "options",
        "paths",
        "numbers",
    )
    with pytest.raises(ConfigError, match=r"`protected_spans` expected one or more of"):
        SpanProtection.of_config_classes(TranslationConfig(protected_spans=("names",)))
    with pytest.raises(ConfigError, match=r"`max_placeholders` expected an integer in \[1, 1000"):
        SpanProtection.of_config_classes(TranslationConfig(max_placeholders=0))


@pytest.mark.no_keras_state
def test_span_copies_counts_against_sources_and_references():
    report = span_copies(
        ["open %s with -l", "copy 3 of 5", "Version 2"],
        ["%s mit -1 öffnen", "3 von 5 99999", "Version 2"],
        ["%s mit -l öffnen", "3 von 5 kopieren", "Version zwei"],
        SpanProtection(),
    )
    # Needed: %s, -l; 3, 5 (the `2` is not in its reference). Copied: %s, 3, 5.
    # Invented: `1` (of `-1`) and 99999.
    assert report == {
        "spans": 4,
        "copied": 3,
        "copy_rate": 0.75,
        "invented": 2,
        "classes": ["urls", "emails", "formats", "options", "paths", "numbers"],
    }
    assert span_copies([], [], [], SpanProtection())["copy_rate"] is None
