"""Reading data files: the one place every reader gets its bytes, text, lines and errors.

Every reader of `toolkit.data` (labelled text, parallel text, label maps,
`.phn` and TextGrid files, audio, `.npz` corpora) reads through these
helpers, so that all of them behave alike:

* `DataError` (a `ValueError`) is what a file that cannot be read as asked
  raises; `data_error(file, line, what)` builds one whose message starts
  with `"<file>, line <n>: "` (or `"<file>: "` for a whole file).
* `check_path` turns a path argument into a string and says when nothing is
  there; `check_encoding` checks an `encoding` argument.
* `read_bytes` reads a whole file; a file that cannot be opened is a
  `DataError` naming it.
* `decode` turns a file's bytes into text. A UTF-16 byte-order mark
  (`FF FE` or `FE FF`, not a UTF-32 one) makes it decode as UTF-16,
  whatever encoding was asked (so a file saved as "Unicode" by Excel or
  Notepad reads); a leading byte-order mark is removed. Undecodable bytes
  are a `DataError` naming the file, the line (counted as `split_lines`
  counts) and the byte offset, and saying how to fix it. `read_text` is
  `read_bytes` then `decode`.
* `split_lines` splits text at `\\n`, `\\r\\n` and `\\r` only - the line
  numbers of a text editor and of the decoding errors (not `str.splitlines`,
  which also splits at `\\v`, `\\f`, `\\x1c`-`\\x1e`, `\\x85`, `\\u2028`
  and `\\u2029`); a final line break ends the last line. `read_lines` is
  `read_text` then `split_lines`.
* `skipped_entry(file, line, reason)` is the record of a row (or file) a
  reader skipped: `{"file", "line", "reason"}`, `line` `None` for a whole
  file. `snippet` shortens a received value for a message.
"""

import codecs
import os
import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")
ENCODING_FIX = "Pass the file's `encoding`, or fix the file"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


class DataError(ValueError):
    """A data file that cannot be read as asked: its message names the file (and line).

    A `ValueError`, so code that catches those keeps working; a command line
    tells it apart from a bug (a plain `ValueError` or any other exception)
    and prints its one-line message instead of a traceback.

    Args:
        message: `"<file>, line <n>: <what was expected and received>"`
            (`data_error(file, line, what)` builds one).

    Example:

    >>> import pathlib, tempfile
    >>> from toolkit.data import read_labelled_texts
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "empty.csv"
    >>> _ = path.write_text("")
    >>> try:
    ...     read_labelled_texts(path)
    ... except DataError as error:
    ...     print(str(error).replace(str(path), "empty.csv"))
    empty.csv: is empty (format 'csv')
    """


def data_error(file, line, message):
    """A `DataError` located at `file` (and `line`, when not `None`)."""
    where = file if line is None else f"{file}, line {line}"
    return DataError(f"{where}: {message}")


def snippet(text, limit=80):
    """`repr` of `text`, cut after `limit` characters (with `...`), for a message."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def skipped_entry(file, line, reason):
    """The record of a skipped row (`line` `None`: a whole file) in a reader's `skipped`."""
    return {"file": file, "line": line, "reason": reason}


def check_path(path):
    """Returns `path` as a string; a `DataError` when it does not exist."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise ValueError(
            f"Argument `path` expected a file or directory path. Received: path={path!r}"
        ) from None
    if not os.path.exists(path):
        raise DataError(
            "Argument `path` expected an existing file or directory. "
            f"Received: path={path!r} (no such file or directory)"
        )
    return path


def check_encoding(encoding):
    """A `ValueError` naming the argument when `encoding` is no known text encoding."""
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ValueError(
            f"Argument `encoding` expected a known text encoding. Received: encoding={encoding!r}"
        ) from None


def read_bytes(path):
    """The bytes of the file `path`; a `DataError` naming it when it cannot be read."""
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise data_error(path, None, f"cannot be read ({error.strerror or error})") from None


def decode(path, data, encoding, fix=ENCODING_FIX):
    """The text of the bytes `data` of the file `path`, without a leading byte-order mark.

    A UTF-16 byte-order mark decodes the file as UTF-16 whatever `encoding`
    says. Undecodable bytes are a `DataError` naming the file, the line, the
    bytes and their offset, ending with `fix` (what to do about it).
    """
    if data.startswith(_UTF16_BOMS) and not data.startswith(_UTF32_BOMS):
        encoding, found = "utf-16", " (from its byte-order mark)"
    else:
        found = ""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        prefix = data[: error.start].decode(encoding, errors="replace")
        line = len(LINE_BREAK.findall(prefix)) + 1
        bad = data[error.start : error.end]
        raise data_error(
            path,
            line,
            f"cannot decode the bytes {bad!r} as {encoding}{found} ({error.reason}, byte "
            f"offset {error.start}). {fix}",
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path, encoding="utf-8", fix=ENCODING_FIX):
    """The decoded text of the file `path` (`read_bytes`, then `decode`)."""
    return decode(path, read_bytes(path), encoding, fix)


def split_lines(text):
    """The lines of `text`, split at `\\n`, `\\r\\n` and `\\r` only; a final break ends
    the last line (no empty line after it)."""
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_lines(path, encoding="utf-8", fix=ENCODING_FIX):
    """The lines of the file `path` (`read_text`, then `split_lines`)."""
    return split_lines(read_text(path, encoding, fix))
