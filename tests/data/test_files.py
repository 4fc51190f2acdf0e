"""One way to read a data file (`toolkit.data.files`), the same in every reader.

Issue 29: the text readers and the label-file readers each had their own
`_decode`. Only the label files' one read a file with a UTF-16 byte-order mark
(a CSV or TSV saved as "Unicode text" was an error), and only the text files'
one named the byte offset of an undecodable byte and said what to do. Now every
reader - labelled text (CSV, TSV, JSON Lines, class folders), parallel text
(TSV, aligned files), label maps, `.phn` and TextGrid files - reads through
`toolkit.data.files`, with the union of both.
"""

import codecs

import pytest

import toolkit.data
from tests.data.test_bad_input import put
from tests.data.test_bad_input import textgrid_text
from tests.data.test_bad_input import wav_bytes
from toolkit.data import DataError
from toolkit.data import files
from toolkit.data import read_label_map
from toolkit.data import read_labelled_texts
from toolkit.data import read_parallel_texts
from toolkit.data import read_speech_corpus

pytestmark = pytest.mark.no_keras_state

# How a text editor may save a file: the first is the reference.
ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8 with BOM": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16": lambda text: text.encode("utf-16"),  # Python: native order with its BOM
    "utf-16-le with BOM": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be with BOM": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
}


def textgrid(intervals):
    """A TextGrid with one `phones` tier, CRLF line breaks (as Praat on Windows saves it)."""
    return textgrid_text(intervals).replace("\n", "\r\n")


# === Each reader, given the same text in each encoding ===


def read_csv(root, encode):
    path = put(root / "a.csv", encode('text,label\r\n"Schön, ja",pos\r\nß\u2028x,neg\r\n'))
    examples = read_labelled_texts(path)
    return examples.texts, examples.labels, examples.skipped


def read_jsonl(root, encode):
    path = put(root / "a.jsonl", encode('{"text": "Grüße", "label": "pos"}\n\n'))
    examples = read_labelled_texts(path)
    return examples.texts, examples.labels


def read_class_folders(root, encode):
    put(root / "tree" / "pos" / "a.txt", encode("Très bien.\n"))
    return read_labelled_texts(root / "tree").texts


def read_tsv_pairs(root, encode):
    path = put(root / "pairs.tsv", encode("Hallo.\tHello.\r\nÄpfel\tApples\r\n"))
    pairs = read_parallel_texts(path)
    return pairs.sources, pairs.targets


def read_aligned_pairs(root, encode):
    put(root / "t.de", encode("Hallo.\nÄpfel\n"))
    put(root / "t.en", encode("Hello.\nApples\n"))
    pairs = read_parallel_texts(root / "t", source_language="de", target_language="en")
    return pairs.sources, pairs.targets


def read_map(root, encode):
    return read_label_map(put(root / "map.txt", encode("# folding\r\nao aa\r\nä\r\n")))


def read_phn(root, encode):
    put(root / "s" / "u.wav", wav_bytes(1600))
    put(root / "s" / "u.phn", encode("0 800 ä\n800 1600 b\n"))
    return read_speech_corpus(root).utterances[0].segments


def read_textgrid(root, encode):
    put(root / "s" / "u.wav", wav_bytes(1600))
    put(root / "s" / "u.TextGrid", encode(textgrid([(0, 0.05, "ä"), (0.05, 0.1, "b")])))
    return read_speech_corpus(root).utterances[0].segments


READERS = [
    read_csv,
    read_jsonl,
    read_class_folders,
    read_tsv_pairs,
    read_aligned_pairs,
    read_map,
    read_phn,
    read_textgrid,
]


def without_root(value, root):
    """`value` with the folder `root` taken out of its strings (skipped rows name files)."""
    return repr(value).replace(str(root), "<root>")


@pytest.mark.parametrize("encoding", list(ENCODINGS)[1:])
@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_every_reader_reads_a_byte_order_mark_as_utf8_text(tmp_path, reader, encoding):
    """A UTF-16 file with its byte-order mark reads as its UTF-8 copy, in every reader (CSV,
    TSV, JSON Lines, .txt and aligned files were errors before); a UTF-8 mark is dropped."""
    expected = reader(tmp_path / "reference", ENCODINGS["utf-8"])
    got = reader(tmp_path / "encoded", ENCODINGS[encoding])
    assert without_root(got, tmp_path / "encoded") == without_root(expected, tmp_path / "reference")


def test_a_utf16_byte_order_mark_wins_over_the_encoding_argument(tmp_path):
    path = put(tmp_path / "a.csv", "text,label\nÄ,b\n".encode("utf-16"))
    assert read_labelled_texts(path, encoding="latin-1").texts == ["Ä"]
    assert read_labelled_texts(path, encoding="utf-16-be").texts == ["Ä"]


def test_a_utf32_file_is_not_read_as_utf16(tmp_path):
    """UTF-32's little-endian mark starts with UTF-16's: it must not decode as UTF-16."""
    path = put(tmp_path / "a.csv", "text,label\na,b\n".encode("utf-32"))
    with pytest.raises(DataError, match=r"a\.csv, line 1: cannot decode .* as utf-8 "):
        read_labelled_texts(path)


# === Each reader, given a byte that does not decode ===

TEXT_FIX = "Pass the file's `encoding`, or fix the file"
LABEL_FIX = "Save the file as UTF-8 (or UTF-16 with its byte-order mark)"


def broken_csv(root):
    return put(root / "a.csv", b"text,label\r\nok,a\r\nb\xffd,b\r\n"), read_labelled_texts


def broken_class_folder(root):
    put(root / "tree" / "pos" / "a.txt", b"one\ntwo\nb\xffd\n")
    return root / "tree" / "pos" / "a.txt", lambda path: read_labelled_texts(root / "tree")


def broken_tsv(root):
    return put(root / "p.tsv", b"a\tb\nc\td\nb\xffd\te\n"), read_parallel_texts


def broken_map(root):
    return put(root / "map.txt", b"ao aa\nax ah\nb\xffd\n"), read_label_map


def broken_phn(root):
    put(root / "s" / "u.wav", wav_bytes(1600))
    path = put(root / "s" / "u.phn", b"0 400 a\n400 800 b\n800 1600 b\xffd\n")
    return path, lambda path: read_speech_corpus(root)


def broken_textgrid(root):
    text = textgrid([(0, 0.05, "a"), (0.05, 0.1, "b")]).encode("utf-8")
    put(root / "s" / "u.wav", wav_bytes(1600))
    path = put(root / "s" / "u.TextGrid", text.replace(b'"a"', b'"b\xffd"'))
    return path, lambda path: read_speech_corpus(root)


@pytest.mark.parametrize(
    "make, fix",
    [
        (broken_csv, TEXT_FIX),
        (broken_class_folder, TEXT_FIX),
        (broken_tsv, TEXT_FIX),
        (broken_map, TEXT_FIX),
        (broken_phn, LABEL_FIX),
        (broken_textgrid, LABEL_FIX),
    ],
    ids=["csv", "class_folder", "tsv", "label_map", "phn", "textgrid"],
)
def test_every_reader_names_the_line_and_byte_offset_of_an_undecodable_byte(tmp_path, make, fix):
    """Label maps, .phn and TextGrid files did not name the byte offset nor a fix before."""
    path, read = make(tmp_path)
    data = path.read_bytes()
    offset = data.index(b"\xff")
    line = data[:offset].count(b"\n") + 1
    with pytest.raises(DataError) as info:
        read(path)
    assert str(info.value) == (
        f"{path}, line {line}: cannot decode the bytes b'\\xff' as utf-8 (invalid start "
        f"byte, byte offset {offset}). {fix}"
    )


def test_a_utf16_file_cut_mid_character_says_it_was_read_as_utf16(tmp_path):
    for name, read in (("a.csv", read_labelled_texts), ("map.txt", read_label_map)):
        path = put(tmp_path / name, "text,label\nx,y\n".encode("utf-16")[:-1])
        with pytest.raises(DataError, match=r"line 2: cannot decode .* as utf-16 \(from its "):
            read(path)


# === The helpers ===


def test_data_error_is_one_class_exported_by_toolkit_data():
    assert toolkit.data.DataError is files.DataError
    assert issubclass(DataError, ValueError)
    assert str(files.data_error("a.csv", 3, "bad")) == "a.csv, line 3: bad"
    assert str(files.data_error("a.csv", None, "bad")) == "a.csv: bad"


def test_split_lines_splits_where_a_text_editor_does():
    assert files.split_lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"]
    assert files.split_lines("a\n\n") == ["a", ""]
    assert files.split_lines("a\u2028b\x0cc\x85\n") == ["a\u2028b\x0cc\x85"]
    assert files.split_lines("") == []


def test_read_bytes_and_check_path_name_the_file(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match=r"folder: cannot be read \("):
        files.read_bytes(tmp_path / "folder")
    with pytest.raises(DataError, match=r"Received: path=.*missing.*no such file"):
        files.check_path(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"Argument `path` expected a file or directory"):
        files.check_path(3)
    with pytest.raises(ValueError, match=r"Argument `encoding` expected a known"):
        files.check_encoding("no-such-codec")


def test_skipped_entry():
    assert files.skipped_entry("a.csv", 4, "empty text") == {
        "file": "a.csv",
        "line": 4,
        "reason": "empty text",
    }
