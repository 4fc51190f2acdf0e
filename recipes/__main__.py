"""`python -m recipes` runs the default job: the text-classification recipe."""

import sys

from recipes.runner.errors import run_command
from recipes.text_classification.cli import main

sys.exit(run_command(main, prog="python -m recipes"))
