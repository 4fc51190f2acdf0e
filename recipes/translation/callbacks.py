"""Dev BLEU during `fit`, so the best epoch and early stopping can follow it."""

import keras

from recipes.translation.export import search_options
from recipes.translation.pipeline import translate_batches
from recipes.translation.protection import SpanProtection
from recipes.translation.scoring import corpus_scores

DEV_BLEU = "val_bleu"


class DevBleu(keras.callbacks.Callback):
    """Adds the dev split's corpus BLEU to each epoch's logs as `val_bleu`.

    The dev sources are translated with greedy search (quick, and it moves
    with beam search's score), with the config's placeholder protection
    (masked sources, unmasked translations), and scored with sacreBLEU
    against the original references. Put it before the
    callbacks that read `val_bleu` (`BestCheckpoint`, `EarlyStopping`,
    `CSVLogger`): Keras hands every callback the same logs dict, in order.

    The translator compiles its greedy search once (`compiled_generate`
    reads the current weights at each call), and the run's greedy test
    decode reuses it.

    Under several workers each one decodes the whole dev set with the same
    weights, so all of them log the same score and stop together.

    Args:
        translator: The `toolkit.models.Translator` being trained.
        split: The dev `ParallelTexts` (not masked).
        config: The run's `TranslationConfig` (search limits, `protect`).
        max_pairs: Score only the first `max_pairs` dev pairs (`None`: all).
    """

    def __init__(self, translator, split, config, max_pairs=None):
        super().__init__()
        self.translator = translator
        count = len(split) if max_pairs is None else min(max_pairs, len(split))
        self.sources = list(split.sources[:count])
        self.references = list(split.targets[:count])
        self.options = search_options(config, beam_width=1)
        self.protection = SpanProtection.from_config(config)

    def on_epoch_end(self, epoch, logs=None):
        translations, _ = translate_batches(
            self.translator, self.sources, self.options, protection=self.protection
        )
        if logs is not None:
            logs[DEV_BLEU] = corpus_scores(translations, self.references)["bleu"]
