"""`python -m recipes` runs the default job: the text-classification recipe."""

import sys

from recipes.text_classification.cli import main

sys.exit(main())
