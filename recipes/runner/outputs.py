"""All-or-nothing output folders.

A recipe writes into a hidden staging folder beside `--out`; only when
everything succeeded is the staging folder renamed into place (replacing an
older run). A run that fails part-way removes its staging folder, so it
leaves no `metrics.json` or `saved_model/` that looks complete.
"""

import contextlib
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
