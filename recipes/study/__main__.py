"""`python -m recipes.study`: run the gated-RNN study and write its report.

    python -m recipes.study                                # every experiment, full size
    python -m recipes.study --experiments vanishing,cost   # a subset
    python -m recipes.study --quick --out /tmp/study       # tiny sizes, a smoke test

Flags: `--experiments` (comma-separated keys of `recipes.study.report.EXPERIMENTS`, in any
order, or `all`; default all), `--quick`, `--seed N` (default 0), `--out DIR` (default
`runs/study/`, receives `report.md`, `results.json` and the figures; replaced only when every
selected experiment succeeded).
"""

import argparse
import shlex
import sys

from recipes.runner.cli import add_debug_argument
from recipes.runner.errors import run_command
from recipes.study.report import DEFAULT_OUT
from recipes.study.report import EXPERIMENTS
from recipes.study.report import parse_experiments
from recipes.study.report import run_study
from toolkit.runtime import reuse_freed_memory


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="python -m recipes.study",
        description="Check the usual claims about gated RNNs with the toolkit; write a report.",
    )
    parser.add_argument(
        "--experiments",
        default="all",
        help=f"comma-separated, from {', '.join(EXPERIMENTS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--seed", type=int, default=0, help="seed of every experiment")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"default {DEFAULT_OUT}/")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    try:
        keys = parse_experiments(args.experiments)
    except ValueError as error:
        parser.error(str(error))
    if args.seed < 0:
        parser.error(f"Argument `--seed` expected a non-negative integer. Received: {args.seed}")
    reuse_freed_memory()  # as the recipes' commands (`recipes.runner.cli.train_command`)
    findings = run_study(
        keys,
        out_dir=args.out,
        quick=args.quick,
        seed=args.seed,
        command=shlex.join(["python", "-m", "recipes.study", *argv]),
    )
    for finding in findings:
        print(f"{finding.title}: {finding.verdict}")
    print(f"Wrote {args.out}/report.md and results.json")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, prog="python -m recipes.study"))  # a stopped study leaves no report
