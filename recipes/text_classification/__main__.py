"""Command line: `python -m recipes.text_classification [train flags]` or `... predict`."""

import sys

from recipes.runner.errors import run_command
from recipes.text_classification.cli import main

sys.exit(run_command(main, prog="python -m recipes.text_classification"))
