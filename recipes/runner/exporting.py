"""Exports that need the TensorFlow backend, from a run trained on another one."""

import os
import pathlib
import subprocess
import sys


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
