"""All-or-nothing output folders.

A recipe writes into a hidden staging folder beside `--out`; only when
everything succeeded is the staging folder renamed into place (replacing an
older run). A run that fails part-way removes its staging folder, so it
leaves no `metrics.json` or `saved_model/` that looks complete.
"""

import contextlib
import dataclasses
import json
import pathlib
import shutil
import tempfile


@contextlib.contextmanager
def staged_output(out_dir):
    """Yields a staging folder that becomes `out_dir` when the block succeeds.

    Args:
        out_dir: The final output folder; its parent is created if needed.

    Yields:
        A `pathlib.Path` to write into.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        yield staging
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


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
