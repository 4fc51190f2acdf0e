"""Command line: `python -m recipes.speech_tagging [train flags]`, `... tag`, `... export`."""

import sys

from recipes.runner.errors import run_command
from recipes.speech_tagging.cli import main

sys.exit(run_command(main, prog="python -m recipes.speech_tagging"))
