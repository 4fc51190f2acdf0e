"""Checks every recipe's `export RUN_DIR` command shares."""

import shutil

import keras
import pytest

from recipes.runner.errors import UsageError
from recipes.runner.outputs import OUTPUT_MARKER


def export_a_copy(main, run_dir, tmp_path, capsys):
    """Runs the recipe's `main(["export", copy])` on `run_dir` copied without its SavedModel.

    On TensorFlow the command must write `copy/saved_model/` (and say so), leave
    no staging folder behind and reject a folder that holds no run; returns the
    copy. On another backend it must refuse, name the backend it needs and
    write nothing; returns `None`.
    """
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("saved_model"))
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(UsageError, match="needs the TensorFlow backend"):
            main(["export", str(copy)])
        assert not (copy / "saved_model").exists()
        return None
    assert main(["export", str(copy)]) == 0
    assert f"Wrote {copy / 'saved_model'}" in capsys.readouterr().out
    assert (copy / "saved_model" / "saved_model.pb").is_file()
    hidden = [path.name for path in copy.iterdir() if path.name.startswith(".")]
    assert hidden == [OUTPUT_MARKER]  # no staging folder left over
    with pytest.raises(ValueError, match=r"`run_dir` expected a finished run folder"):
        main(["export", str(tmp_path / "missing")])
    return copy
