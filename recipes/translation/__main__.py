"""Command line: `python -m recipes.translation [train flags]` or `... translate`."""

import sys

from recipes.translation.cli import main

sys.exit(main())
