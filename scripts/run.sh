#!/usr/bin/env bash
# The main job: set up .venv, then train, evaluate and export the text-classification
# recipe on its bundled data (into runs/text_classification/).
# Extra arguments go to the recipe, e.g. `bash scripts/run.sh --out runs/x --set epochs=3`.
EXTRAS="" source "$(dirname "$0")/setup_env.sh"
exec .venv/bin/python -m recipes "$@"
