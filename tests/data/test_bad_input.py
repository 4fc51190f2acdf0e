"""Bad input for every data reader: a `DataError` naming the file, never anything else.

Issue 28: a command line prints a `DataError`'s one-line message and shows a
traceback for any other exception (a bug). So whatever is wrong inside a data
file or a data folder - cut short, undecodable, malformed, inconsistent - must
come out of the readers as a `DataError` whose message names the file (and the
line where one applies), never a bare `ValueError`, `struct.error`,
`IndexError`, `UnicodeDecodeError` or an error from inside NumPy / SciPy.

The hand-written cases below are the ones the issue names and the ones the
property tests found; the Hypothesis tests feed each reader generated files
(byte edits and truncations of valid WAV / SPHERE files, arbitrary lines in
CSV / TSV / JSONL / aligned / `.phn` / TextGrid / label-map files, arbitrary
`.npz` arrays) with the property: the reader returns a result, or raises a
`DataError` whose message names the file and is one line. The runs are small
and derandomized (the same examples every run, no example database).
"""

import contextlib
import io
import json
import math
import pathlib
import struct
import tempfile
import wave
import zipfile

import numpy as np
import pytest
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from toolkit.data import DataError
from toolkit.data import load_parallel_splits
from toolkit.data import load_speech_splits
from toolkit.data import load_text_splits
from toolkit.data import read_label_map
from toolkit.data import read_labelled_texts
from toolkit.data import read_parallel_texts
from toolkit.data import read_speech_corpus
from toolkit.data import read_waveform

pytestmark = pytest.mark.no_keras_state

SMALL = settings(max_examples=100, deadline=None, derandomize=True, database=None)


# === Valid files to break ===


def samples(count, channels=1):
    return (np.arange(count * channels) % 50) * 300 - 7000


def wav_bytes(count=64, rate=16000, width=2, channels=1):
    """A RIFF WAV written by Python's `wave` (integer PCM)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(width)
        file.setframerate(rate)
        values = samples(count, channels)
        if width == 1:
            values = values % 256
        file.writeframes(values.astype({1: "u1", 2: "<i2", 4: "<i4"}[width]).tobytes())
    return buffer.getvalue()


def riff_bytes(fmt_chunk, data, before=b"", after=b"", magic=b"RIFF"):
    """A RIFF (or RIFX) file of a raw fmt chunk body, data, and extra chunks around the data."""
    order = ">" if magic == b"RIFX" else "<"
    body = b"WAVE" + b"fmt " + struct.pack(order + "I", len(fmt_chunk)) + fmt_chunk + before
    body += b"data" + struct.pack(order + "I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    body += after
    return magic + struct.pack(order + "I", len(body)) + body


def fmt_body(code, channels, rate, bits, container=None, order="<"):
    container = container or math.ceil(bits / 8)
    block = container * channels
    return struct.pack(order + "HHIIHH", code, channels, rate, rate * block, block, bits)


def extensible_fmt(bits=16, rate=16000, subformat=1):
    base = fmt_body(0xFFFE, 1, rate, bits)
    guid = struct.pack("<I", subformat) + b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return base + struct.pack("<HHI", 22, bits, 4) + guid


def list_chunk(text=b"INFOISFT\x05\x00\x00\x00test\x00\x00"):
    return b"LIST" + struct.pack("<I", len(text)) + text


def wav_variants():
    """Valid WAV files of the layouts the reader takes, by name."""
    int24 = b"".join(struct.pack("<i", int(v) << 8)[:3] for v in samples(40))
    floats = (samples(40) / 8000.0).astype("<f4").tobytes()
    return {
        "pcm16": wav_bytes(),
        "pcm8": wav_bytes(width=1),
        "pcm32": wav_bytes(width=4),
        "pcm24": riff_bytes(fmt_body(1, 1, 16000, 24), int24),
        "float32": riff_bytes(fmt_body(3, 1, 16000, 32), floats),
        "rifx16": riff_bytes(
            fmt_body(1, 1, 16000, 16, order=">"),
            samples(40).astype(">i2").tobytes(),
            magic=b"RIFX",
        ),
        "extensible": riff_bytes(extensible_fmt(), samples(40).astype("<i2").tobytes()),
        "with LIST": riff_bytes(
            fmt_body(1, 1, 16000, 16),
            samples(40).astype("<i2").tobytes(),
            before=list_chunk(),
            after=list_chunk(),
        ),
    }


WAVS = wav_variants()


def sphere_bytes(count=64, rate=16000, fields=None):
    lines = [
        "NIST_1A",
        "   1024",
        f"sample_count -i {count}",
        f"sample_rate -i {rate}",
        "channel_count -i 1",
        "sample_byte_format -s2 01",
        "sample_n_bytes -i 2",
        "sample_coding -s3 pcm",
    ]
    lines += fields or []
    header = ("\n".join(lines + ["end_head"]) + "\n").encode("ascii").ljust(1024, b" ")
    return header + samples(count).astype("<i2").tobytes()


def textgrid_text(intervals=((0, 0.05, "a"), (0.05, 0.1, "b")), xmax=0.1):
    """A TextGrid in the long layout with one `phones` tier."""
    lines = [
        'File type = "ooTextFile"',
        'Object class = "TextGrid"',
        "",
        "xmin = 0",
        f"xmax = {xmax}",
        "tiers? <exists>",
        "size = 1",
        "item []:",
        "    item [1]:",
        '        class = "IntervalTier"',
        '        name = "phones"',
        "        xmin = 0",
        f"        xmax = {xmax}",
        f"        intervals: size = {len(intervals)}",
    ]
    for index, (start, end, text) in enumerate(intervals, start=1):
        lines += [
            f"        intervals [{index}]:",
            f"            xmin = {start}",
            f"            xmax = {end}",
            f'            text = "{text}"',
        ]
    return "\n".join(lines) + "\n"


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# === Writing and checking ===


def put(path, content):
    """Writes `content` (bytes, or text as UTF-8) to `path`, making its folders."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def check_message(error, *names):
    """The `DataError`'s message names one of `names` (file or folder names) and is one line."""
    message = str(error)
    assert any(str(name) in message for name in names), (names, message)
    assert "\n" not in message and "\r" not in message, message


def raises_data_error(call, *names):
    """`call()` raises a `DataError` naming one of `names`."""
    with pytest.raises(DataError) as info:
        call()
    check_message(info.value, *names)
    return str(info.value)


def result_or_data_error(call, *names):
    """The property: `call()` returns, or raises a `DataError` naming one of `names`."""
    try:
        return call()
    except DataError as error:
        check_message(error, *names)
        return None


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A per-example folder for Hypothesis tests (function-scoped `tmp_path` is one folder
    for all examples of a test): `with scratch() as root:` gives a new empty folder."""
    base = tmp_path_factory.mktemp("bad_input")

    @contextlib.contextmanager
    def new_folder():
        with tempfile.TemporaryDirectory(dir=base) as folder:
            yield pathlib.Path(folder)

    return new_folder


def named_cases(*cases):
    """`pytest.param`s of `(file name, content, ...)` tuples, with the file name as id."""
    return [pytest.param(*case, id=case[0]) for case in cases]


# === Audio files: hand-written ===


def cut(data, length):
    return data[:length]


def patched(data, offset, packed):
    return data[:offset] + packed + data[offset + len(packed) :]


WAV = wav_bytes()  # 44-byte header, then 128 bytes of samples


@pytest.mark.parametrize(
    "name, content, expected",
    named_cases(
        # The defect: scipy raised struct.error (no file named) for a header cut
        # inside the fmt chunk.
        ("cut30.wav", cut(WAV, 30), "cut short"),
        ("zero.wav", b"", "is empty"),
        ("riff.wav", b"RIFF", "cut short"),
        ("riff8.wav", cut(WAV, 8), "cut short"),
        ("cut16.wav", cut(WAV, 16), "cut short"),
        ("cut20.wav", cut(WAV, 20), "cut short"),
        ("cut40.wav", cut(WAV, 40), "cut short"),
        ("cut43.wav", cut(WAV, 43), "cut short"),
        ("cut44.wav", cut(WAV, 44), "truncated"),
        ("cut100.wav", cut(WAV, 100), "truncated"),
        # The data chunk claims more than the file holds (the RIFF size agrees with the
        # file): scipy read what was there without a word.
        ("data_size.wav", patched(WAV, 40, struct.pack("<I", 10**6)), "truncated"),
        # The RIFF header claims more than the file holds (refused before too).
        ("riff_size.wav", patched(WAV, 4, struct.pack("<I", 10**6)), "truncated"),
        # fmt chunk claims more than the file: scipy raised UnboundLocalError.
        ("fmt_size.wav", patched(WAV, 16, struct.pack("<I", 10**6)), "fmt chunk"),
        ("fmt_small.wav", patched(WAV, 16, struct.pack("<I", 2)), "fmt chunk"),
        # 0 channels: scipy raised ZeroDivisionError.
        ("channels0.wav", patched(WAV, 22, struct.pack("<H", 0)), "channels"),
        # A sample rate of 0 was read, and resampling it failed inside SciPy.
        ("rate0.wav", patched(WAV, 24, struct.pack("<II", 0, 0)), "sample rate"),
        # A rate no audio has (a corrupt header): resampling it would design a filter of
        # billions of taps.
        ("rate_huge.wav", patched(WAV, 24, struct.pack("<II", 3 * 10**6, 6 * 10**6)), "at most"),
        ("bits0.wav", patched(WAV, 34, struct.pack("<H", 0)), "bits"),
        # A 9-byte sample container: NumPy's TypeError (no dtype '<i9').
        ("block9.wav", riff_bytes(fmt_body(1, 1, 16000, 16, container=9), bytes(90)), "bytes"),
        ("adpcm.wav", patched(WAV, 20, struct.pack("<H", 2)), "format"),
        ("float16.wav", riff_bytes(fmt_body(3, 1, 16000, 16), bytes(20)), "bits"),
        (
            "nan.wav",
            riff_bytes(fmt_body(3, 1, 16000, 32), np.full(8, np.nan, "<f4").tobytes()),
            "non-finite",
        ),
        ("no_data.wav", riff_bytes(fmt_body(1, 1, 16000, 16), b"")[:36], "no data chunk"),
        ("data_first.wav", b"RIFF" + struct.pack("<I", 16) + b"WAVEdata" + bytes(8), "fmt"),
        ("not_wave.wav", patched(WAV, 8, b"AVI "), "WAVE"),
        ("rf64.wav", b"RF64" + bytes(4) + b"WAVEds64" + bytes(6), "cut short"),
    ),
)
def test_broken_wav_files(tmp_path, name, content, expected):
    path = put(tmp_path / name, content)
    message = raises_data_error(lambda: read_waveform(path), name)
    assert expected in message


def test_valid_wav_layouts_still_read(tmp_path):
    """The layouts the chunk walk takes (scipy read them before) give the same samples."""
    expected = (samples(40) / 32768.0).astype(np.float32)
    for name in ["pcm24", "rifx16", "extensible", "with LIST"]:
        waveform, rate = read_waveform(put(tmp_path / "a.wav", WAVS[name]))
        np.testing.assert_array_equal(waveform, expected, err_msg=name)
        assert rate == 16000
    waveform, _ = read_waveform(put(tmp_path / "a.wav", WAVS["float32"]))
    np.testing.assert_array_equal(waveform, (samples(40) / 8000.0).astype(np.float32))


def test_wav_cut_inside_its_header_names_the_file_in_a_corpus(tmp_path):
    """The issue's case, inside a corpus: the first 30 bytes of a valid WAV."""
    put(tmp_path / "spk" / "a.wav", cut(wav_bytes(1600), 30))
    put(tmp_path / "spk" / "a.phn", "0 1600 a\n")
    message = raises_data_error(lambda: read_speech_corpus(tmp_path), "a.wav")
    assert "a.wav: is cut short" in message


def test_every_truncation_of_valid_wav_files(tmp_path):
    """Every prefix of each valid layout: a `DataError` naming the file (never a crash)."""
    for name, data in WAVS.items():
        read_waveform(put(tmp_path / "whole.wav", data))  # the uncut file reads
        for length in range(len(data)):
            path = put(tmp_path / f"{name.replace(' ', '_')}_{length}.wav", data[:length])
            raises_data_error(lambda path=path: read_waveform(path), path.name)
            path.unlink()


SPHERE = sphere_bytes()


@pytest.mark.parametrize(
    "name, content, expected",
    named_cases(
        ("magic.wav", SPHERE[:7], "header size"),
        ("line1.wav", SPHERE[:12], "cut short"),
        ("half_header.wav", SPHERE[:100], "cut short"),
        ("header_only.wav", SPHERE[:1024], "truncated"),
        ("some_samples.wav", SPHERE[:1100], "truncated"),
        ("count.wav", sphere_bytes(fields=["sample_count -i many"]), "sample_count"),
        (
            "negative.wav",
            SPHERE.replace(b"sample_count -i 64", b"sample_count -i -5"),
            "sample_count",
        ),
        (
            "rate0.wav",
            SPHERE.replace(b"sample_rate -i 16000", b"sample_rate -i 0    "),
            "sample_rate",
        ),
        (
            "rate_inf.wav",
            SPHERE.replace(b"sample_rate -i 16000", b"sample_rate -r inf  "),
            "sample_rate",
        ),
        ("size_neg.wav", b"NIST_1A\n  -5\n" + bytes(100), "header size"),
        ("size_big.wav", b"NIST_1A\n   99999\n" + bytes(100), "header size"),
    ),
)
def test_broken_sphere_files(tmp_path, name, content, expected):
    path = put(tmp_path / name, content)
    message = raises_data_error(lambda: read_waveform(path), name)
    assert expected in message


def test_every_truncation_of_a_sphere_header(tmp_path):
    for length in list(range(0, 1030)) + [1100, len(SPHERE) - 1]:
        path = put(tmp_path / f"s{length}.wav", SPHERE[:length])
        raises_data_error(lambda path=path: read_waveform(path), path.name)
        path.unlink()


# === Audio files: properties ===


@SMALL
@given(
    variant=st.sampled_from(sorted(WAVS)),
    edits=st.lists(st.tuples(st.integers(0, 90), st.integers(0, 255)), min_size=1, max_size=4),
    length=st.one_of(st.none(), st.integers(0, 300)),
)
@example(variant="pcm16", edits=[(22, 0)], length=None)  # 0 channels
@example(variant="with LIST", edits=[(86, 0xFF)], length=None)  # LIST size past the end
def test_wav_byte_edits_give_a_waveform_or_a_data_error(scratch, variant, edits, length):
    data = bytearray(WAVS[variant])
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    with scratch() as root:
        path = put(root / "edited.wav", bytes(data[:length]))
        result = result_or_data_error(lambda: read_waveform(path), "edited.wav")
    if result is not None:
        waveform, rate = result
        assert waveform.dtype == np.float32 and waveform.ndim == 1 and waveform.size
        assert np.all(np.isfinite(waveform)) and rate > 0


@SMALL
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(
                ["sample_count", "sample_rate", "channel_count", "sample_n_bytes", "sample_coding"]
                + ["sample_byte_format"]
            ),
            st.sampled_from(["-i", "-r", "-s3"]),
            st.one_of(
                st.integers(-(2**40), 2**40).map(str),
                st.sampled_from(["inf", "nan", "1e400", "-0", "01", "10", "pcm", "", "ulaw"]),
                st.text(st.characters(codec="ascii", exclude_characters="\n"), max_size=6),
            ),
        ),
        max_size=3,
    ),
    header_size=st.one_of(st.just("1024"), st.text("-0123456789 x", max_size=7)),
)
def test_sphere_header_edits_give_a_waveform_or_a_data_error(scratch, lines, header_size):
    fields = [f"{key} {kind} {value}" for key, kind, value in lines]
    data = sphere_bytes(fields=fields)  # a later field overrides the earlier one
    data = data.replace(b"   1024", header_size.encode("ascii").rjust(7), 1)
    with scratch() as root:
        path = put(root / "edited.wav", data)
        result_or_data_error(lambda: read_waveform(path), "edited.wav")


# === Labelled texts ===


@pytest.mark.parametrize(
    "name, content",
    named_cases(
        ("a.csv", b"text,label\ngood,pos\nb\xffd,neg\n"),
        ("a.tsv", b"text\tlabel\ngood\tpos\nb\xe9d\tneg\n"),
        ("a.jsonl", b'{"text": "good", "label": "pos"}\n{"text": "\xff", "label": "neg"}\n'),
        # json.loads raised RecursionError, then a ValueError of Python's int limit.
        ("deep.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        ("digits.jsonl", b'{"text": "a", "label": ' + b"9" * 5000 + b"}\n"),
        # A lone surrogate is valid JSON but no text TensorFlow takes: it failed in
        # tf.constant, far from the file.
        ("surrogate.jsonl", b'{"text": "a\\ud800b", "label": "pos"}\n'),
        ("surrogate_label.jsonl", b'{"text": "a", "label": "\\udfff"}\n'),
        ("empty.csv", b""),
        ("blank.tsv", b"\n\n  \n"),
        ("header.csv", b"text,label\n"),
        ("quote.csv", b'text,label\n"open,pos\n'),
        ("fields.csv", b"text,label\na,b,c\n"),
        ("array.jsonl", b'[{"text": "a", "label": "b"}]\n'),
        # UTF-16 with its byte-order mark reads (tests/data/test_files.py); cut mid-character
        # it does not decode.
        ("utf16.csv", "text,label\na,b\n".encode("utf-16")[:-1]),
    ),
)
def test_broken_text_files(tmp_path, name, content):
    path = put(tmp_path / name, content)
    raises_data_error(lambda: read_labelled_texts(path), name)
    raises_data_error(lambda: load_text_splits(path), name)


def test_folders_without_texts(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    raises_data_error(lambda: read_labelled_texts(empty), "empty")
    raises_data_error(lambda: load_text_splits(empty), "empty")
    unrelated = tmp_path / "unrelated"
    put(unrelated / "README.md", "notes")
    put(unrelated / "img" / "a.png", b"\x89PNG")
    raises_data_error(lambda: read_labelled_texts(unrelated), "unrelated")
    raises_data_error(lambda: load_text_splits(unrelated), "unrelated")
    put(tmp_path / "tree" / "pos" / "a.txt", b"caf\xe9")
    raises_data_error(lambda: read_labelled_texts(tmp_path / "tree"), "a.txt")
    put(tmp_path / "splits" / "train.csv", "text,label\n" + "a,x\nb,y\n" * 5)
    put(tmp_path / "splits" / "dev.csv", b"text,label\na,\xff\n")
    raises_data_error(lambda: load_text_splits(tmp_path / "splits"), "dev.csv")


FIELD = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from('",\t\n\r '),
    max_size=12,
)


@SMALL
@given(
    suffix=st.sampled_from([".csv", ".tsv"]),
    rows=st.lists(st.lists(FIELD, min_size=0, max_size=4), max_size=6),
    separator=st.sampled_from([",", "\t", ";"]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    header=st.booleans(),
)
def test_delimited_text_gives_examples_or_a_data_error(
    scratch, suffix, rows, separator, newline, header
):
    lines = ([separator.join(["text", "label"])] if header else []) + [
        separator.join(row) for row in rows
    ]
    with scratch() as root:
        path = put(root / f"rows{suffix}", newline.join(lines))
        result = result_or_data_error(lambda: read_labelled_texts(path), path.name)
    if result is not None:
        assert len(result.texts) == len(result.labels) > 0


JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(codec=None), max_size=5),  # lone surrogates too
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


@SMALL
@given(
    lines=st.lists(
        st.one_of(
            st.fixed_dictionaries({"text": JSON_VALUE, "label": JSON_VALUE}).map(json.dumps),
            JSON_VALUE.map(json.dumps),
            st.text(max_size=20),
        ),
        max_size=5,
    )
)
@example(lines=['{"text": "\\ud83d", "label": "x"}'])
def test_json_lines_give_examples_or_a_data_error(scratch, lines):
    with scratch() as root:
        path = put(root / "rows.jsonl", "\n".join(lines))
        result = result_or_data_error(lambda: read_labelled_texts(path), path.name)
    if result is not None:
        for value in result.texts + result.labels:
            value.encode("utf-8")  # text that TensorFlow can hold


# === Parallel texts ===


@pytest.mark.parametrize(
    "name, content",
    named_cases(
        ("a.tsv", b"hi\thallo\n\xff\tx\n"),
        ("empty.tsv", b""),
        ("columns.tsv", b"hi\thallo\njust one\n"),
        ("skipped.tsv", b"\thallo\n \t \n"),
    ),
)
def test_broken_parallel_tsv_files(tmp_path, name, content):
    path = put(tmp_path / name, content)
    raises_data_error(lambda: load_parallel_splits(path), name)


def test_broken_aligned_files(tmp_path):
    def read(prefix):
        return read_parallel_texts(prefix, source_language="en", target_language="de")

    put(tmp_path / "count.en", "one\ntwo\nthree\n")
    put(tmp_path / "count.de", "eins\nzwei\n")
    message = raises_data_error(lambda: read(tmp_path / "count"), "count.en")
    assert "count.de has 2" in message
    put(tmp_path / "bytes.en", "one\ntwo\n")
    put(tmp_path / "bytes.de", b"eins\nzw\xf6\n")
    assert "line 2" in raises_data_error(lambda: read(tmp_path / "bytes"), "bytes.de")
    put(tmp_path / "empty.en", "")
    put(tmp_path / "empty.de", "")
    raises_data_error(lambda: read(tmp_path / "empty"), "empty.en")
    # The source file without its translation: a plain ValueError about `path` before.
    put(tmp_path / "alone.en", "one\n")
    raises_data_error(lambda: read(tmp_path / "alone"), "alone.de")
    put(tmp_path / "split" / "train.en", "one\n")
    raises_data_error(
        lambda: load_parallel_splits(
            tmp_path / "split", source_language="en", target_language="de"
        ),
        "train.de",
    )


def test_parallel_folders_without_pairs(tmp_path):
    """A data folder with no split entries was a plain ValueError ("not a folder")."""
    empty = tmp_path / "empty"
    empty.mkdir()
    raises_data_error(lambda: load_parallel_splits(empty), "empty")
    put(tmp_path / "unrelated" / "notes.md", "x")
    message = raises_data_error(lambda: load_parallel_splits(tmp_path / "unrelated"), "unrelated")
    assert "notes.md" in message


LINE = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=15)


@SMALL
@given(
    lines=st.lists(LINE, max_size=6),
    raw=st.one_of(st.none(), st.binary(max_size=20)),
    max_words=st.sampled_from([None, 1, 3]),
)
def test_parallel_tsv_gives_pairs_or_a_data_error(scratch, lines, raw, max_words):
    with scratch() as root:
        content = "\n".join(lines).encode("utf-8") + (raw or b"")
        path = put(root / "pairs.tsv", content)
        result_or_data_error(lambda: read_parallel_texts(path, max_words=max_words), "pairs.tsv")
        result_or_data_error(lambda: load_parallel_splits(path, max_words=max_words), "pairs.tsv")


@SMALL
@given(
    sources=st.lists(LINE, max_size=5),
    targets=st.lists(LINE, max_size=5),
    raw=st.binary(max_size=6),
)
def test_aligned_files_give_pairs_or_a_data_error(scratch, sources, targets, raw):
    with scratch() as root:
        put(root / "t.en", "\n".join(sources).encode("utf-8") + raw)
        put(root / "t.de", "\n".join(targets))
        result_or_data_error(
            lambda: load_parallel_splits(root / "t", source_language="en", target_language="de"),
            "t.en",
            "t.de",
        )


# === Speech corpora ===


def test_broken_phn_files(tmp_path):
    audio = wav_bytes(1600)
    cases = {
        "bytes": (b"0 800 a\n800 1600 \xff\n", "line 2"),
        "reversed": (b"0 800 a\n1200 900 b\n", "line 2: the segment ends before it starts"),
        "past": (b"0 800 a\n800 99999 b\n", "line 2: the segment ends past the end"),
        "negative": (b"-3 800 a\n", "line 1: the segment starts before sample 0"),
        "digits": (b"0 " + b"9" * 5000 + b" a\n", "line 1"),
        "fields": (b"0 800\n", "line 1"),
        "empty": (b"", "holds no segments"),
        "utf16": (b"\xff\xfe0", "cannot decode"),
    }
    for stem, (labels, expected) in cases.items():
        root = tmp_path / stem
        put(root / "s" / "u.wav", audio)
        put(root / "s" / "u.phn", labels)
        message = raises_data_error(lambda root=root: read_speech_corpus(root), "u.phn")
        assert expected in message, (stem, message)


def test_broken_textgrid_files(tmp_path):
    audio = wav_bytes(1600)
    valid = textgrid_text()
    cases = {
        "bytes": (valid.encode("utf-8").replace(b'"b"', b'"\xe9"'), "line 22"),
        # 1e999 is an infinite time: OverflowError when turned into samples.
        "infinite": (
            valid.replace("xmax = 0.1\n            text", "xmax = 1e999\n   text"),
            "finite",
        ),
        "cut": (valid[:200], "ends early"),
        "empty": ("", "ends early"),
        "binary": (b"ooBinaryFile\x08TextGrid", "binary"),
        "newline": (valid.replace('class = "IntervalTier"', 'class = "Interval\nTier"'), "class"),
    }
    for stem, (content, expected) in cases.items():
        root = tmp_path / stem
        put(root / "s" / "u.wav", audio)
        put(root / "s" / "u.TextGrid", content)
        message = raises_data_error(lambda root=root: read_speech_corpus(root), "u.TextGrid")
        assert expected in message, (stem, message)


def test_broken_npz_files(tmp_path):
    features = np.zeros((3, 2), "float32")
    labels = np.array(["a", "b", "c"])
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w") as archive:  # members that are not .npy arrays
        archive.writestr("features.npy", b"not an array")
        archive.writestr("labels.npy", b"x")
    cases = {
        "missing": (npz_bytes(features=features), "has no array 'labels'"),
        "lengths": (npz_bytes(features=features, labels=labels[:2]), "one label per"),
        "raw": (members.getvalue(), "not"),
        "bytes_labels": (
            npz_bytes(features=features, labels=np.array([b"a", b"\xff", b"c"])),
            "UTF-8",
        ),
        "no_channels": (npz_bytes(features=np.zeros((3, 0)), labels=labels), "channels"),
        "object": (npz_bytes(features=features, labels=labels.astype(object)), "pickle"),
        "zip": (b"PK\x03\x04" + bytes(30), "not a readable .npz"),
        "cut": (npz_bytes(features=features, labels=labels)[:-40], "not a readable .npz"),
        "surrogate": (
            npz_bytes(features=features, labels=np.array(["a", "\ud800", "c"])),
            "labels",
        ),
    }
    for stem, (content, expected) in cases.items():
        root = tmp_path / stem
        put(root / "s" / "u.npz", content)
        message = raises_data_error(lambda root=root: read_speech_corpus(root), "u.npz")
        assert expected in message, (stem, message)


def test_speech_folders_without_utterances(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    raises_data_error(lambda: read_speech_corpus(empty), "empty")
    raises_data_error(lambda: load_speech_splits(empty), "empty")
    put(tmp_path / "unrelated" / "s" / "notes.txt", "x")
    raises_data_error(lambda: read_speech_corpus(tmp_path / "unrelated"), "unrelated")
    raises_data_error(lambda: load_speech_splits(tmp_path / "unrelated"), "unrelated")
    put(tmp_path / "split" / "train" / "s" / "notes.txt", "x")
    raises_data_error(lambda: load_speech_splits(tmp_path / "split"), "train")


def test_sphere_cut_short_in_a_corpus(tmp_path):
    put(tmp_path / "s" / "SA1.WAV", SPHERE[:300])
    put(tmp_path / "s" / "SA1.PHN", "0 64 h#\n")
    assert "SA1.WAV: " in raises_data_error(lambda: read_speech_corpus(tmp_path), "SA1.WAV")


def test_broken_label_maps(tmp_path):
    for name, content in {
        "bytes.txt": b"ao aa\n\xff sil\n",
        "empty.txt": b"",
        "fields.txt": b"ao aa 39\n",
        "twice.txt": b"ao aa\nao ah\n",
        "odd.txt": b"\xff\xfea",
    }.items():
        path = put(tmp_path / name, content)
        raises_data_error(lambda path=path: read_label_map(path), name)
    put(tmp_path / "c" / "s" / "u.wav", wav_bytes(1600))
    put(tmp_path / "c" / "s" / "u.phn", "0 1600 a\n")
    raises_data_error(
        lambda: read_speech_corpus(tmp_path / "c", label_map=tmp_path / "bytes.txt"), "bytes.txt"
    )


PHN_LINE = st.one_of(
    st.tuples(
        st.integers(-5, 2000), st.integers(-5, 2000), st.sampled_from(["a", "b", "h#", "q"])
    ).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    LINE,
)


@SMALL
@given(
    lines=st.lists(PHN_LINE, max_size=5),
    raw=st.binary(max_size=4),
    rate=st.sampled_from([16000, 8000]),
    label_map=st.sampled_from([None, {"q": None}, {"h#": "sil", "a": None, "b": None}]),
)
def test_phn_lines_give_a_corpus_or_a_data_error(scratch, lines, raw, rate, label_map):
    with scratch() as root:
        put(root / "s" / "u.wav", wav_bytes(1600 * rate // 16000, rate=rate))
        put(root / "s" / "u.phn", "\n".join(lines).encode("utf-8") + raw)
        corpus = result_or_data_error(
            lambda: read_speech_corpus(root, label_map=label_map), "u.phn", "u.wav"
        )
    if corpus is not None:
        (utterance,) = corpus.utterances
        ends = [end for _, end, _ in utterance.segments]
        assert ends[-1] == utterance.num_samples == 1600


TEXTGRID_LINES = textgrid_text().splitlines()
NUMBER = st.one_of(
    st.floats(allow_nan=False).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["1e999", "-1e999", "1e308", "0.05", "0.1", "2", "-0"]),
)


@st.composite
def edited_textgrids(draw):
    """The valid TextGrid with a few lines deleted, repeated, or their value replaced."""
    lines = list(TEXTGRID_LINES)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "repeat", "number", "string", "text"]))
        key = lines[index].split("=")[0] if "=" in lines[index] else lines[index]
        if action == "delete":
            del lines[index]
        elif action == "repeat":
            lines.insert(index, lines[index])
        elif action == "number":
            lines[index] = f"{key}= {draw(NUMBER)}"
        elif action == "string":
            lines[index] = f'{key}= "{draw(st.text(max_size=6))}"'
        else:
            lines[index] = draw(LINE)
        if not lines:
            break
    return "\n".join(lines) + "\n"


@SMALL
@given(content=edited_textgrids())
@example(content=textgrid_text(((0, 0.05, "a"), (0.05, "1e999", "b"))))
def test_textgrid_edits_give_a_corpus_or_a_data_error(scratch, content):
    with scratch() as root:
        put(root / "s" / "u.wav", wav_bytes(1600))
        put(root / "s" / "u.TextGrid", content)
        result_or_data_error(lambda: read_speech_corpus(root), "u.TextGrid", "u.wav")


NPZ_ARRAY = hnp.arrays(
    dtype=st.one_of(
        hnp.floating_dtypes(),
        hnp.integer_dtypes(),
        hnp.unsigned_integer_dtypes(),
        hnp.boolean_dtypes(),
        hnp.unicode_string_dtypes(max_len=3),
        hnp.byte_string_dtypes(max_len=3),
        hnp.complex_number_dtypes(),
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)


@SMALL
@given(
    arrays=st.dictionaries(st.sampled_from(["features", "labels", "other"]), NPZ_ARRAY, max_size=3),
    label_map=st.sampled_from([None, {"a": None}]),
)
def test_npz_arrays_give_a_corpus_or_a_data_error(scratch, arrays, label_map):
    with scratch() as root:
        put(root / "s" / "u.npz", npz_bytes(**arrays))
        corpus = result_or_data_error(
            lambda: read_speech_corpus(root, label_map=label_map), "u.npz"
        )
    if corpus is not None:
        (utterance,) = corpus.utterances
        assert utterance.features.ndim == 2 and utterance.features.shape[1] > 0
        assert len(utterance.frame_labels) == len(utterance.features)
        for label in utterance.frame_labels.tolist():
            label.encode("utf-8")


@SMALL
@given(lines=st.lists(LINE, max_size=5), raw=st.binary(max_size=6))
def test_label_map_lines_give_a_map_or_a_data_error(scratch, lines, raw):
    with scratch() as root:
        path = put(root / "map.txt", "\n".join(lines).encode("utf-8") + raw)
        result_or_data_error(lambda: read_label_map(path), "map.txt")
