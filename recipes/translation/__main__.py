"""Command line: `python -m recipes.translation [train flags]` or `... translate`."""

import sys

from recipes.runner.errors import run_command
from recipes.translation.cli import main

sys.exit(run_command(main, prog="python -m recipes.translation"))
