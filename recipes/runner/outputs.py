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
import glob
import json
import os
import pathlib
import shutil
import socket
import tempfile
import time

from recipes.runner.errors import UsageError

# The file every staged output folder holds: the mark of a folder a later run may replace.
OUTPUT_MARKER = ".recipe-output"


def check_out_dir(out_dir, replaces=()):
    """Raises a `UsageError` unless `out_dir` may become a recipe's output folder.

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
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise UsageError(
                    f"Argument `out_dir` expected a folder to write the run into. Received: "
                    f"{str(out_dir)!r}, under {str(parent)!r}, which is a file, not a folder"
                )
        return
    if not path.is_dir():
        raise UsageError(
            f"Argument `out_dir` expected a folder to write the run into. Received: "
            f"{str(out_dir)!r}, which exists and is not a folder"
        )
    cwd = pathlib.Path.cwd().resolve()
    if path.resolve() in (cwd, *cwd.parents):
        raise UsageError(
            f"Argument `out_dir` expected a folder that the run may replace whole. Received: "
            f"{str(out_dir)!r}, the current folder or one of its parents; name a new folder"
        )
    names = {child.name for child in path.iterdir()}
    if names and not names & {OUTPUT_MARKER, *replaces}:
        shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise UsageError(
            f"Argument `out_dir` expected a new or empty folder, or an earlier run's (a run "
            f"replaces the folder whole). Received: {str(out_dir)!r}, which holds files no "
            f"run wrote ({shown}); name another folder or remove this one"
        )


@contextlib.contextmanager
def staged_output(out_dir, replaces=()):
    """Yields a staging folder that becomes `out_dir` when the block succeeds.

    `out_dir` is checked first (`check_out_dir`): an existing folder is
    replaced only if it is empty or an earlier output's. An `out_dir` that is
    a symbolic link stands for its target: the target is replaced and the
    link kept. The staging folder, `.<name>-XXXXXXXX` beside `out_dir`, holds
    `OUTPUT_MARKER`, which records the process that owns it, and gets the
    permissions of a folder made by `mkdir` (not `tempfile`'s owner-only ones).

    The staging folders of runs that died without unwinding (SIGKILL, a power
    cut) are removed when the next run on the same `out_dir` starts
    (`remove_stale_staging`); those of runs still alive are left alone, so two
    concurrent runs on one `out_dir` both end correctly (the later wins).

    A block that raises (or a Ctrl-C, SIGTERM) removes the staging folder
    and leaves `out_dir` as it was. A block that succeeded is never lost: if
    `out_dir` cannot be replaced at the end, the finished run is moved to
    `<name>.finished-<time>` beside it and the `UsageError` names that folder.

    Args:
        out_dir: The final output folder; its parent is created if needed.
        replaces: Passed to `check_out_dir`.

    Yields:
        A `pathlib.Path` to write into.
    """
    out_dir = pathlib.Path(out_dir)
    if out_dir.is_symlink():
        out_dir = pathlib.Path(os.path.realpath(out_dir))
    check_out_dir(out_dir, replaces)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out_dir)
    staging = _new_staging_folder(out_dir, f".{out_dir.name}-")
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _put_in_place(staging, out_dir, replaces)


def _put_in_place(staging, out_dir, replaces):
    """Renames the finished `staging` to `out_dir`, replacing an earlier run there.

    The earlier run is first renamed aside (so a failure in between loses
    neither run) and removed last.
    """
    aside = None
    try:
        check_out_dir(out_dir, replaces)  # again: something may have appeared meanwhile
        if out_dir.exists():
            aside = _new_staging_folder(out_dir, f".{out_dir.name}-old-")
            out_dir.rename(aside / "run")
        try:
            staging.rename(out_dir)
        except BaseException:
            if aside is not None:
                (aside / "run").rename(out_dir)
            raise
    except (OSError, UsageError) as error:
        kept = out_dir.with_name(f"{out_dir.name}.finished-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            staging.rename(kept)
        except OSError:
            kept = staging
        raise UsageError(
            f"The run finished, but could not replace {str(out_dir)!r} ({error}). Nothing is "
            f"lost: the finished run is in {str(kept)!r}; move it where you want it"
        ) from error
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def _new_staging_folder(out_dir, prefix):
    """A new hidden folder beside `out_dir`, holding `OUTPUT_MARKER` with this process."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
    try:
        folder.chmod(0o777 & ~_umask())
        (folder / OUTPUT_MARKER).write_text(_marker_text(), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _marker_text():
    owner = {"pid": os.getpid(), "host": socket.gethostname(), **_process_identity(os.getpid())}
    return (
        "Written by a recipe (recipes.runner.staged_output): a later run may replace "
        f"this folder.\nowner: {json.dumps(owner)}\n"
    )


def _process_identity(pid):
    """The boot and the start time of process `pid` (Linux `/proc`), or `{}` if unknown.

    A PID is reused after its process ends, or after a reboot; the pair tells
    the process that wrote a marker from a later one with the same PID.
    """
    try:
        boot = pathlib.Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        started = stat.rsplit(")", 1)[1].split()[19]  # field 22, after the command's name
    except (OSError, IndexError):
        return {}
    return {"boot": boot, "started": started}


def _owner_is_gone(owner):
    """Whether the process recorded in a staging folder's marker has ended."""
    if owner.get("host") != socket.gethostname():
        return False  # another machine's run (a shared disk): cannot tell
    if owner.get("boot") is not None:
        here = _process_identity(os.getpid())
        if here.get("boot") not in (None, owner["boot"]):
            return True  # the machine rebooted since
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # alive, another user's
    now = _process_identity(owner["pid"])
    return owner.get("started") is not None and now.get("started") not in (None, owner["started"])


def remove_stale_staging(out_dir):
    """Removes the staging folders beside `out_dir` left by runs that died.

    A staging folder is `.<name>-XXXXXXXX` (or `.<name>-old-XXXXXXXX`, an
    earlier run being replaced) holding `OUTPUT_MARKER` with its owner's
    PID, host, boot and start time; it is removed when that process is gone
    (SIGKILL, a power cut). Folders of live runs, of other hosts, and without
    an owner record are left alone.

    Args:
        out_dir: The output folder whose parent holds the staging folders.

    Returns:
        The removed folders, as `pathlib.Path`s.
    """
    out_dir = pathlib.Path(out_dir)
    removed = []
    for candidate in out_dir.parent.glob(f".{glob.escape(out_dir.name)}-*"):
        owner = _recorded_owner(candidate / OUTPUT_MARKER)
        if owner is not None and _owner_is_gone(owner):
            shutil.rmtree(candidate, ignore_errors=True)
            print(f"Removed {candidate}/, the unfinished output of a run that was killed")
            removed.append(candidate)
    return removed


def _recorded_owner(marker):
    try:
        text = marker.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith("owner: "):
            try:
                owner = json.loads(line[len("owner: ") :])
            except ValueError:
                return None
            return owner if isinstance(owner.get("pid"), int) else None
    return None


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_run_folder(run_dir, needed=("model.keras",)):
    """Returns `run_dir` as a `pathlib.Path`; a `UsageError` unless it holds `needed` files.

    Args:
        run_dir: The run folder a serving or export command was given.
        needed: The file names the command will read.
    """
    run_dir = pathlib.Path(run_dir)
    for name in needed:
        if not (run_dir / name).is_file():
            raise UsageError(
                f"Argument `run_dir` expected a finished run folder holding {list(needed)}. "
                f"Received: {str(run_dir)!r} (no {name})"
            )
    return run_dir


def load_run_model(run_dir, name="model.keras", **kwargs):
    """`keras.models.load_model(run_dir / name)` (safe mode), or a `UsageError` naming the file.

    A file that is missing, truncated or not a `.keras` archive, or that holds
    code (a `Lambda` layer) that safe mode refuses, is a folder that is not a
    finished run, not a bug.

    Args:
        run_dir: A finished run folder.
        name: The model file in it.
        **kwargs: Passed to `keras.models.load_model` (`compile=False`).
    """
    import zipfile

    import keras

    import toolkit  # noqa: F401  (registers the layers model.keras holds)

    path = check_run_folder(run_dir, (name,)) / name
    try:
        return keras.models.load_model(path, safe_mode=True, **kwargs)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UsageError(
            f"Argument `run_dir` expected a finished run folder. Received: {str(run_dir)!r}, "
            f"whose {name} cannot be loaded as a Keras model ({reason})"
        ) from error


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
    run_dir = check_run_folder(run_dir, needed)
    fields = {field.name for field in dataclasses.fields(config_class)}
    path = run_dir / "config.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(saved, dict):
            raise ValueError(f"expected a JSON object, not {type(saved).__name__}")
        return run_dir, config_class(**{key: saved[key] for key in saved if key in fields})
    except (ValueError, TypeError) as error:  # a ConfigError names its key already
        raise UsageError(
            f"Argument `run_dir` expected a finished run folder. Received: {str(run_dir)!r}, "
            f"whose {path.name} cannot be read: {error}"
        ) from None
