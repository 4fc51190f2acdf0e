"""Command line: `python -m recipes.text_classification [train flags]` or `... predict`."""

import sys

from recipes.text_classification.cli import main

sys.exit(main())
