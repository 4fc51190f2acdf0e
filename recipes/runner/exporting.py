"""SavedModel exports: from a run trained on another backend, or left for later."""

import datetime
import json
import os
import pathlib
import subprocess
import sys

import keras

from recipes.runner.errors import UsageError
from recipes.runner.outputs import staged_output


def require_tensorflow_backend(what):
    """Raises `UsageError` unless Keras runs on TensorFlow; `what` needs it.

    Args:
        what: What needs the backend, e.g. `"Exporting the SavedModel"`.
    """
    if keras.backend.backend() != "tensorflow":
        raise UsageError(
            f"{what} needs the TensorFlow backend. Received: "
            f"KERAS_BACKEND={keras.backend.backend()!r}; rerun with KERAS_BACKEND=tensorflow"
        )


def export_in_tensorflow_process(module, run_dir):
    """Runs `python -m <module> export RUN_DIR` with `KERAS_BACKEND=tensorflow`.

    A SavedModel is written by the TensorFlow backend; a run trained with
    JAX saves `model.keras` (which loads on any backend) and has a
    TensorFlow-backend subprocess write `saved_model/` from it.

    Args:
        module: The recipe's module, e.g. `"recipes.translation"`; its
            command line has an `export RUN_DIR` subcommand.
        run_dir: The run (or staging) folder holding `model.keras`.
    """
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", module, "export", str(run_dir)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"Exporting the SavedModel with the TensorFlow backend failed:\n{done.stderr[-3000:]}"
        )


def ops_report(summary):
    """The export report's `saved_model_ops` entry of a verifier summary.

    Args:
        summary: What `toolkit.export.verify_saved_model` returns (and the
            `toolkit.export` exporters, which end with it).

    Returns:
        `{"distinct_ops": n, "extra_ops": [...]}`, for `metrics.json`.
    """
    return {"distinct_ops": len(summary["ops"]), "extra_ops": sorted(summary["extra_ops"])}


def verified_ops(path, allowed_extra=()):
    """Checks a SavedModel's ops (`toolkit.export.verify_saved_model`); its `ops_report`.

    For a SavedModel written without a `toolkit.export` exporter (those
    verify what they write and return the summary: pass it to `ops_report`).
    Raises the verifier's `ValueError` when the SavedModel holds a `Cudnn*` or
    `Xla*` op or one outside core TensorFlow (and `allowed_extra`).
    """
    from toolkit.export import verify_saved_model

    return ops_report(verify_saved_model(path, allowed_extra=allowed_extra))


def write_run_saved_model(run_dir, write, allowed_extra=()):
    """Writes `<run_dir>/saved_model/` by `write(folder)`, all or nothing; returns its path.

    The folder is staged (`staged_output`) and replaces the SavedModel a run
    wrote there before (recognized by its `saved_model.pb`) once its ops are
    verified. A `write` that returns the verifier's summary (the
    `toolkit.export` exporters do) has verified them; otherwise
    `verified_ops` does. The recipes' `export_run` functions end with it.

    Args:
        run_dir: A finished run folder.
        write: Writes a SavedModel into the folder it is given; may return
            `verify_saved_model`'s summary.
        allowed_extra: Ops outside core TensorFlow the SavedModel may hold
            (used when `write` returns no summary).
    """
    path = pathlib.Path(run_dir) / "saved_model"
    with staged_output(path, replaces=("saved_model.pb",)) as staging:
        summary = write(staging)
        if not (isinstance(summary, dict) and "extra_ops" in summary):
            verified_ops(staging, allowed_extra)
    return path


def saved_model_not_written(module, reason="saved_model=false"):
    """The export report's `saved_model` entry of a run that wrote no SavedModel.

    With the default `reason`, a run with `saved_model: false`: it skips the
    SavedModel and its serving check (sweeps and studies that keep only the
    scores). Its `model.keras` is written and checked as always, and the
    recipe's `export RUN_DIR` command writes the SavedModel from it later.

    Args:
        module: The recipe's module, e.g. `"recipes.translation"`.
        reason: Why the run wrote none (default `"saved_model=false"`).
    """
    return (
        f"not written: {reason}; "
        f"`KERAS_BACKEND=tensorflow python -m {module} export RUN_DIR` writes it"
    )


def record_later_export(run_dir):
    """Updates `metrics.json` of a run whose SavedModel the `export` command just wrote.

    Its export report said `"not written: ..."`; it now says when the command
    wrote it (the file is replaced whole, through a temporary file). Other
    reports are left as they are.

    Args:
        run_dir: The run folder.
    """
    path = pathlib.Path(run_dir) / "metrics.json"
    if not path.is_file():
        return
    metrics = json.loads(path.read_text(encoding="utf-8"))
    export = metrics.get("export")
    if not isinstance(export, dict) or not str(export.get("saved_model", "")).startswith(
        "not written"
    ):
        return
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    export["saved_model"] = f"written later by the `export` command ({when})"
    from recipes.runner.reports import write_json

    partial = path.with_name(".metrics.json.partial")
    write_json(partial, metrics)
    os.replace(partial, path)
