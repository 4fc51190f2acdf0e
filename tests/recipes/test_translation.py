"""The translation recipe end to end at tiny size.

A handful of sentence pairs is learnt by heart, then translated back exactly
with beam search, by the in-process model, the reloaded run folder, the
`translate` command and the SavedModel served by TensorFlow alone.
"""

import io
import json

import keras
import numpy as np
import pytest

import toolkit
from recipes.runner import ConfigError
from recipes.runner import load_config
from recipes.runner.outputs import OUTPUT_MARKER
from recipes.translation import TranslationConfig
from recipes.translation import run
from recipes.translation import translate_texts
from recipes.translation.cli import main
from recipes.translation.export import search_options
from recipes.translation.model import ATTENTIONS
from recipes.translation.model import build_translator
from tests.recipes.run_folders import export_a_copy
from tests.serving import serve_without_toolkit
from toolkit.models import translator as translator_module

PAIRS = [
    ("one two three", "uno dos tres"),
    ("the red house", "la casa roja"),
    ("good morning", "buenos días"),
    ("thank you very much", "muchas gracias"),
    ("the cat sleeps", "el gato duerme"),
    ("i like bread", "me gusta el pan"),
    ("where is the station", "dónde está la estación"),
    ("the dog runs", "el perro corre"),
]
TINY = dict(
    units=32,
    embedding_dim=16,
    source_vocabulary=60,
    target_vocabulary=60,
    dropout=0.0,
    label_smoothing=0.0,
    batch_size=8,
    learning_rate=0.01,
    patience=None,
    verbose=0,
    beam_width=3,
    examples=8,
    attention_examples=2,
)


def write_splits(folder, pairs=PAIRS):
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("train", "dev", "test"):
        (folder / f"{name}.tsv").write_text(
            "".join(f"{s}\t{t}\tCC0\n" for s, t in pairs), encoding="utf-8"
        )
    return folder


@pytest.fixture(scope="module")
def compiled_searches():
    """The options of each search the translators compiled in the `memorized` run."""
    return []


@pytest.fixture(scope="module")
def memorized(tmp_path_factory, compiled_searches):
    root = tmp_path_factory.mktemp("translation")
    # 60 steps of one batch: a constant rate memorizes the pairs (under the cosine
    # schedule's decay over 60 steps BLEU reached 47; the schedule is tested in the
    # runner's tests)
    config = TranslationConfig(
        data=str(write_splits(root / "data")), epochs=60, lr_schedule="constant", **TINY
    )
    keras.config.set_dtype_policy("float32")

    compile_search = translator_module._compile_search

    def recorded(model, options):
        compiled_searches.append(dict(options))
        return compile_search(model, options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(translator_module, "_compile_search", recorded)
        metrics = run(config, root / "run")
    return root / "run", metrics


def test_memorized_pairs_are_translated_exactly(memorized):
    out, metrics = memorized
    assert [e["translation"] for e in metrics["examples"]] == [t for _, t in PAIRS]
    assert metrics["bleu"] == pytest.approx(100.0)
    assert metrics["chrf"] == pytest.approx(100.0)
    assert metrics["greedy"]["bleu"] == pytest.approx(100.0)
    assert metrics["decoding"] == {**metrics["decoding"], "search": "beam", "beam_width": 3}
    assert (out / "translations.txt").read_text(encoding="utf-8").splitlines() == [
        t for _, t in PAIRS
    ]


def test_the_test_greedy_decode_reuses_the_dev_bleu_search(memorized, compiled_searches):
    # One compiled greedy search serves the dev BLEU of every epoch and the test
    # split's greedy decode (it reads the current weights); tracing it again cost
    # about a second per run. The beam searches: the test decode (with alignments)
    # and the reloaded run folder's check.
    assert [(o["beam_width"], o.get("return_alignments", False)) for o in compiled_searches] == [
        (None, False),
        (3, True),
        (3, False),
    ]


def test_run_folder_and_metrics(memorized):
    out, metrics = memorized
    expected = {
        "attention",
        "config.json",
        "data.json",
        "logs",
        "metrics.json",
        "model.keras",
        "source.spm",
        "target.spm",
        "training_curves.png",
        "translations.txt",
        "saved_model",  # under JAX too: a TensorFlow-backend subprocess writes it
        OUTPUT_MARKER,
    }
    assert {path.name for path in out.iterdir()} == expected
    assert sorted(path.name for path in (out / "attention").iterdir()) == [
        "example_0.png",
        "example_1.png",
    ]
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert metrics["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert metrics["chrf_signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0")
    buckets = metrics["bleu_by_source_length"]
    assert list(buckets) == ["1-10", "11-20", "21-30", ">30"]
    assert buckets["1-10"]["pairs"] == len(PAIRS) and buckets[">30"] == {"pairs": 0, "bleu": None}
    assert metrics["export"]["keras_reload_same_translations"] is True
    assert metrics["export"]["saved_model_agreement"] == 1.0
    # The best epoch is chosen on dev BLEU (greedy), logged every epoch.
    log = (out / "logs" / "training_log.csv").read_text().splitlines()
    column = log[0].split(",").index("val_bleu")
    dev_bleu = [float(row.split(",")[column]) for row in log[1:]]
    assert len(dev_bleu) == metrics["training"]["epochs_run"] == 60
    assert metrics["training"]["monitor"] == "val_bleu"
    assert metrics["training"]["best_value"] == pytest.approx(max(dev_bleu)) == 100.0
    # Among the epochs of best BLEU, the one of lowest dev loss is kept.
    losses = [float(row.split(",")[log[0].split(",").index("val_loss")]) for row in log[1:]]
    tied = [epoch for epoch, bleu in enumerate(dev_bleu) if bleu == max(dev_bleu)]
    assert metrics["training"]["best_epoch"] == min(tied, key=losses.__getitem__) + 1
    assert dev_bleu[0] < 100.0
    record = json.loads((out / "data.json").read_text())
    assert record["layout"] == "split files"


def test_bleu_matches_sacrebleu_on_the_written_translations(memorized):
    import sacrebleu

    out, metrics = memorized
    hypotheses = (out / "translations.txt").read_text(encoding="utf-8").splitlines()
    references = [t for _, t in PAIRS]
    assert metrics["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def test_saved_model_translates_strings_without_the_project(memorized, tmp_path):
    out, _ = memorized
    sources = [s for s, _ in PAIRS] + ["the red cat", ""]
    expected = translate_texts(out, sources)
    (tmp_path / "sources.json").write_text(json.dumps(sources))
    serve_without_toolkit(
        tmp_path,
        """
        # The SentencePiece op kernels of tensorflow-text, loaded without its Python
        # package (which imports Keras): TensorFlow plus one op library.
        import glob, importlib.util, os
        spec = importlib.util.find_spec("tensorflow_text")
        ops = os.path.join(spec.submodule_search_locations[0], "python", "ops")
        tf.load_op_library(glob.glob(os.path.join(ops, "_sentencepiece_tokenizer*.so"))[0])

        sources = json.load(open("sources.json"))
        model = tf.saved_model.load(sys.argv[2])
        result = model.translate(tf.constant(sources))["translation"]
        json.dump([t.decode("utf-8") for t in result.numpy().tolist()], open("out.json", "w"))
        """,
        str(out / "saved_model"),
    )
    served = json.loads((tmp_path / "out.json").read_text())
    assert served[: len(PAIRS)] == [t for _, t in PAIRS]
    if keras.backend.backend() == "tensorflow":
        assert served == expected
    else:  # exported by a TensorFlow-backend process; beam ties may break differently
        assert sum(a == b for a, b in zip(served, expected)) >= len(PAIRS)


def test_a_run_folder_of_the_old_functional_model_still_translates(memorized, tmp_path):
    """Run folders written before the recipe used `toolkit.models.Translator` hold a
    plain functional `model.keras` ("seq2seq", the same layer names) and the `.spm`
    files: `translate` and `export` rebuild the translator from them."""
    import shutil

    from recipes.translation.export import load_run

    out, _ = memorized
    old = tmp_path / "old"
    shutil.copytree(out, old)
    translator, _ = load_run(out)
    functional = keras.Model(translator.inputs, translator.outputs, name="seq2seq")
    functional.save(old / "model.keras")
    assert type(keras.models.load_model(old / "model.keras")).__name__ == "Functional"
    rebuilt, _ = load_run(old)
    assert isinstance(rebuilt, toolkit.models.Translator)
    sources = [s for s, _ in PAIRS] + ["the red cat", ""]
    assert translate_texts(old, sources) == translate_texts(out, sources)


def test_export_command_rewrites_the_saved_model(memorized, tmp_path, capsys):
    out, _ = memorized
    export_a_copy(main, out, tmp_path, capsys)


def test_translate_command_reads_a_file_or_stdin(memorized, tmp_path, capsys, monkeypatch):
    out, _ = memorized
    path = tmp_path / "in.txt"
    path.write_text("the dog runs\ngood morning\n", encoding="utf-8")
    assert main(["translate", str(out), "--input", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == ["el perro corre", "buenos días"]
    monkeypatch.setattr("sys.stdin", io.StringIO("i like bread\n"))
    assert main(["translate", str(out), "--beam-width", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["me gusta el pan"]


@pytest.mark.parametrize(
    "attention, cell, monitor",
    [
        pytest.param("none", "gru", "loss", marks=pytest.mark.tensorflow_pass),
        pytest.param("bahdanau", "lstm", "bleu", marks=pytest.mark.tensorflow_pass),
        pytest.param("luong-dot", "gru", "loss", marks=pytest.mark.tensorflow_pass),
        # Four states, one bridged (kept on JAX: the jitted search carries them);
        # and a cell trained by the parallel scan.
        ("bahdanau", "slstm", "loss"),
        pytest.param("none", "mingru", "loss", marks=pytest.mark.tensorflow_pass),
    ],
)
def test_other_attentions_and_cells_train(tmp_path, attention, cell, monitor):
    data = write_splits(tmp_path / "data", PAIRS[:4])
    config = TranslationConfig(
        data=str(data),
        epochs=3,
        attention=attention,
        cell=cell,
        monitor=monitor,
        saved_model=False,  # the memorized run and the multi-worker test export
        **TINY,
    )
    metrics = run(config, tmp_path / "run")
    log = (tmp_path / "run" / "logs" / "training_log.csv").read_text().splitlines()
    losses = [float(row.split(",")[log[0].split(",").index("loss")]) for row in log[1:]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert metrics["training"]["monitor"] == f"val_{monitor}"
    assert ("val_bleu" in log[0].split(",")) == (monitor == "bleu")
    assert (tmp_path / "run" / "attention").exists() == (attention != "none")
    assert metrics["pairs"] == 4
    assert metrics["export"] == {
        "keras_reload_same_translations": True,
        "saved_model": "not written: saved_model=false; "
        "`KERAS_BACKEND=tensorflow python -m recipes.translation export RUN_DIR` writes it",
    }
    assert not (tmp_path / "run" / "saved_model").exists()


def tiny_translator(config, source_vocabulary_size, target_vocabulary_size):
    return build_translator(
        config,
        None,
        source_vocabulary_size=source_vocabulary_size,
        target_vocabulary_size=target_vocabulary_size,
    )


def test_projection_is_scaled_by_fan_in():
    # Regression: Glorot over (units, vocabulary) gave logit weights of std
    # sqrt(2 / (256 + 4000)) = 0.022, and the bundled-data run sat on the
    # unigram plateau (dev token accuracy 0.06 after 375 steps; 0.20 now).
    translator = tiny_translator(TranslationConfig(units=256), 100, 4000)
    kernel = keras.ops.convert_to_numpy(translator.projection.kernel)
    assert kernel.shape == (256, 4000)
    assert kernel.std() == pytest.approx(256**-0.5, rel=0.05)


@pytest.mark.tensorflow_pass
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_every_attention_name_builds_a_translator_that_searches(attention):
    """Every name of `toolkit.attention.available()` (and none) is a translation choice."""
    config = TranslationConfig(**{**TINY, "units": 8, "embedding_dim": 4, "attention": attention})
    translator = tiny_translator(config, 12, 12)
    if attention != "none":
        expected = toolkit.attention.get(attention, 8)
        assert type(translator.decoder.cell.attention) is type(expected)
        assert getattr(translator.decoder.cell.attention, "score", None) == getattr(
            expected, "score", None
        )
    source_ids = np.array([[3, 4, 5, 2], [6, 7, 2, 0]], "int32")
    logits = translator([source_ids, np.array([[2, 5, 6], [2, 8, 0]], "int32")])
    assert tuple(logits.shape) == (2, 3, 12)
    for beam_width in (None, 2):
        result = translator.generate(source_ids, beam_width=beam_width, max_length=5)
        assert tuple(result["tokens"].shape) == (2, 5)


def test_compiled_search_reads_the_current_weights_and_traces_once():
    # Regression: under JAX the compiled search baked the weights of its first
    # call in as constants, so the dev BLEU callback compiled a new search
    # every epoch (about 2.5 s each; the memorized fixture took 480 s on JAX
    # against 87 s on TensorFlow).
    config = TranslationConfig(**{**TINY, "units": 8, "embedding_dim": 4})
    translator = tiny_translator(config, 12, 12)
    options = search_options(config, beam_width=1)
    traces = []
    original = translator.generate

    def counted(*args, **kwargs):
        traces.append(1)
        return original(*args, **kwargs)

    translator.generate = counted
    search = translator.compiled_generate(**options)
    source_ids = np.array([[3, 4, 5, 2], [6, 7, 2, 0]], "int32")
    before = keras.ops.convert_to_numpy(search(source_ids)["tokens"])
    rng = np.random.default_rng(0)
    for variable in translator.trainable_variables:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    after = {k: keras.ops.convert_to_numpy(v) for k, v in search(source_ids).items()}
    eager = {k: keras.ops.convert_to_numpy(v) for k, v in original(source_ids, **options).items()}
    assert not np.array_equal(before, eager["tokens"])  # the new weights translate differently
    np.testing.assert_array_equal(after["tokens"], eager["tokens"])
    np.testing.assert_allclose(after["scores"], eager["scores"], rtol=1e-4)  # jit vs eager
    assert len(traces) <= 2  # the graph's (or jit's) trace, and not one per weight update
    search(source_ids)
    assert len(traces) <= 2


def test_bad_data_fails_cleanly_and_leaves_no_output(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text("a b\tc d\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.tsv, line 2: has 1 tab-separated column"):
        run(TranslationConfig(data=str(data), **TINY), tmp_path / "run")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "overrides, message",
    [
        (["attention=additive"], r"`attention` expected one of \['bahdanau', 'luong-dot'"),
        (["cell=transformer"], r"`cell` expected one of \['simple', 'lstm', 'gru', 'mgu'"),
        (["beam_width=0"], r"`beam_width` expected a positive integer"),
        (["label_smoothing=1"], r"`label_smoothing` expected a number in \[0, 1\)"),
        (["tokens=5"], r"Unknown config key `tokens`"),
        (["monitor=accuracy"], r"`monitor` expected one of \['loss', 'bleu'\]"),
        (["dev_bleu_pairs=0"], r"`dev_bleu_pairs` expected a positive integer or null"),
        (["protected_spans=[url]"], r"`protected_spans` expected one or more of \['urls'"),
        (["max_placeholders=0"], r"`max_placeholders` expected an integer in \[1, 1000\]"),
        (["lr_schedule=linear"], r"`lr_schedule` expected one of \['constant', 'cosine', 'st"),
        (["global_clipnorm=0"], r"`global_clipnorm` expected a positive number or null"),
    ],
)
def test_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TranslationConfig, None, overrides)
