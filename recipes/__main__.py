"""`python -m recipes` runs the default job."""

import sys

from recipes.demo import main

sys.exit(main())
