"""Machine translation: an attentional RNN encoder-decoder, beam search, BLEU.

`python -m recipes.translation` trains on the bundled English -> Spanish
corpus (`recipes/data/translation`, see `docs/datasets/translation.md`) or on
`--data` (a `source<TAB>target` file, aligned `train.en` / `train.de` files,
or a folder of train / dev / test), scores beam-search translations of the
test split with sacreBLEU (BLEU and chrF, by source length too), and writes
`metrics.json`, `translations.txt`, `training_curves.png`, `attention/`
heatmaps, `model.keras` with `source.spm` / `target.spm`, and `saved_model/`
(source strings in, translations out, TensorFlow alone).
`python -m recipes.translation translate RUN_DIR [--input FILE]` translates
lines of a file or stdin.
"""

from recipes.translation.config import TranslationConfig
from recipes.translation.export import translate_texts
from recipes.translation.job import run

__all__ = ["TranslationConfig", "run", "translate_texts"]
