"""Corpus generators for the robustness matrix (`benchmarks/robustness.py`).

Each module writes corpora of one recipe's data format in shapes other than
the bundled corpus', deterministically from a seed:

* `text`: labelled text (`train.csv` / `dev.csv` / `test.csv`, or one file)
  for `recipes.text_classification`;
* `speech`: TIMIT-layout trees (`<split>/<speaker>/<id>.wav` + `.phn`)
  synthesized with espeak-ng, for `recipes.speech_tagging`.

Every corpus folder holds a `corpus.json` (shape, seed, counts): a generator
only replaces a folder that holds one.
"""
