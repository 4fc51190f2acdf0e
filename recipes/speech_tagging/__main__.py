"""Command line: `python -m recipes.speech_tagging [train flags]`, `... tag`, `... export`."""

import sys

from recipes.speech_tagging.cli import main

sys.exit(main())
