"""The output folder of a generated corpus: replaced only when a generator wrote it."""

import json
import pathlib
import shutil

RECORD = "corpus.json"


def clear_corpus_folder(out_dir):
    """Empties `out_dir` for a new corpus and returns it as a `pathlib.Path`.

    A missing or empty folder is created; a folder holding `corpus.json` (an
    earlier corpus) is removed first. Anything else is refused, so that a
    mistyped path never deletes a user's files.

    Raises:
        ValueError: `out_dir` is a file, or a non-empty folder without
            `corpus.json`.
    """
    out_dir = pathlib.Path(out_dir)
    if out_dir.is_file():
        raise ValueError(f"Argument `out_dir` expected a folder. Received a file: {out_dir}")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not (out_dir / RECORD).is_file():
            raise ValueError(
                f"Argument `out_dir` expected a new or empty folder, or one a corpus generator "
                f"wrote (with {RECORD}). Received: {out_dir}, which holds other files"
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def write_corpus_record(out_dir, record):
    """Writes `record` as `<out_dir>/corpus.json` (sorted keys, so reruns are byte-identical)."""
    path = pathlib.Path(out_dir) / RECORD
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_corpus_record(out_dir):
    """The `corpus.json` of a generated corpus, as a dict."""
    return json.loads((pathlib.Path(out_dir) / RECORD).read_text(encoding="utf-8"))
