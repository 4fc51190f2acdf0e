"""All-or-nothing output folders.

A recipe writes into a hidden staging folder beside `--out`; only when
everything succeeded is the staging folder renamed into place (replacing an
older run). A run that fails part-way removes its staging folder, so it
leaves no `metrics.json` or `saved_model/` that looks complete.

Replacing is whole-folder, so it is allowed only for a folder that is empty
or that an earlier output wrote (it holds the marker file `OUTPUT_MARKER`);
`--out` naming any other folder (the data's, the home folder, `.`) or a file
is refused before the run starts, with the folder left as it was.
"""

import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import tempfile

# The file every staged output folder holds: the mark of a folder a later run may replace.
OUTPUT_MARKER = ".recipe-output"


def check_out_dir(out_dir, replaces=()):
    """Raises a `ValueError` unless `out_dir` may become a recipe's output folder.

    It may if it does not exist, or is an empty folder, or a folder an earlier
    output wrote (holding `OUTPUT_MARKER` or one of `replaces`), and it is
    neither the current working folder nor one of its parents.

    Args:
        out_dir: The output folder (`--out`).
        replaces: File names that also mark a folder as replaceable, e.g.
            `("saved_model.pb",)` for a SavedModel written inside a run.
    """
    path = pathlib.Path(out_dir)
    if not path.exists():
        return
    if not path.is_dir():
        raise ValueError(
            f"Argument `out_dir` expected a folder to write the run into. Received: "
            f"{str(out_dir)!r}, which exists and is not a folder"
        )
    cwd = pathlib.Path.cwd().resolve()
    if path.resolve() in (cwd, *cwd.parents):
        raise ValueError(
            f"Argument `out_dir` expected a folder that the run may replace whole. Received: "
            f"{str(out_dir)!r}, the current folder or one of its parents; name a new folder"
        )
    names = {child.name for child in path.iterdir()}
    if names and not names & {OUTPUT_MARKER, *replaces}:
        shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise ValueError(
            f"Argument `out_dir` expected a new or empty folder, or an earlier run's (a run "
            f"replaces the folder whole). Received: {str(out_dir)!r}, which holds files no "
            f"run wrote ({shown}); name another folder or remove this one"
        )


@contextlib.contextmanager
def staged_output(out_dir, replaces=()):
    """Yields a staging folder that becomes `out_dir` when the block succeeds.

    `out_dir` is checked first (`check_out_dir`): an existing folder is
    replaced only if it is empty or an earlier output's. The staging folder
    holds `OUTPUT_MARKER` and gets the permissions of a folder made by
    `mkdir` (not `tempfile`'s owner-only ones).

    Args:
        out_dir: The final output folder; its parent is created if needed.
        replaces: Passed to `check_out_dir`.

    Yields:
        A `pathlib.Path` to write into.
    """
    check_out_dir(out_dir, replaces)
    out_dir = pathlib.Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        staging.chmod(0o777 & ~_umask())
        (staging / OUTPUT_MARKER).write_text(
            "Written by a recipe (recipes.runner.staged_output): a later run may replace "
            "this folder.\n",
            encoding="utf-8",
        )
        yield staging
        check_out_dir(out_dir, replaces)  # again: something may have appeared meanwhile
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_run_config(run_dir, config_class, needed):
    """The config of a finished run folder, after checking it holds `needed` files.

    Args:
        run_dir: The run folder.
        config_class: The recipe's config dataclass; `config.json` keys it
            does not know (from another version) are ignored.
        needed: File names the caller will read, `config.json` among them.

    Returns:
        `(run_dir as a pathlib.Path, config)`.
    """
    run_dir = pathlib.Path(run_dir)
    for name in needed:
        if not (run_dir / name).is_file():
            raise ValueError(
                f"Argument `run_dir` expected a finished run folder holding {list(needed)}. "
                f"Received: {str(run_dir)!r} (no {name})"
            )
    fields = {field.name for field in dataclasses.fields(config_class)}
    saved = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    return run_dir, config_class(**{key: value for key, value in saved.items() if key in fields})
