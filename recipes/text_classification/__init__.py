"""Text classification: raw labelled text in, an evaluated and deployable model out.

`python -m recipes.text_classification` trains on the bundled data
(`recipes/data/number_agreement`, see `docs/datasets/number_agreement.md`)
or on `--data` (CSV / TSV / JSON Lines files or a class-folder tree, with
or without `train` / `dev` / `test` splits), evaluates on the test split,
reports the TF-IDF + logistic-regression baseline beside it, and writes into
`--out`:

* `config.json` (the resolved config), `data.json` (where the splits came
  from, counts, skipped rows), `labels.txt` (class names in index order);
* `metrics.json`: test `accuracy`, `macro_f1`, `loss`, `per_class`
  precision / recall / F1 / support (scikit-learn), the same for `dev`,
  `baseline` and `comparison` (recipe vs baseline), `training` (epochs, best
  epoch, whether the time budget stopped it), `export` (reload checks);
* `confusion_matrix.png`, `training_curves.png`, `attention.png` (attention
  pooling weights over a few test texts);
* `model.keras`, the trained `toolkit.models.TextClassifier` (raw strings
  -> probabilities through `predict`; loading it needs `import toolkit`),
  and `saved_model/` (its `serve` signature takes raw strings and returns
  `label` and `probabilities`; loading it needs only TensorFlow);
* `logs/`: `training_log.csv`, `tensorboard/`, the best dev checkpoint.

`python -m recipes.text_classification predict RUN_DIR [--input FILE]`
prints the label and its probability for each line of a file or stdin.
"""

from recipes.text_classification.config import TextClassificationConfig
from recipes.text_classification.export import predict_texts
from recipes.text_classification.job import run

__all__ = ["TextClassificationConfig", "run", "predict_texts"]
