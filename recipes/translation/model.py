"""The recipe's translator: `toolkit.models.Translator` built from a config.

`build_translator(config, preprocessor)` makes the attentional
encoder-decoder (`toolkit.models.Translator`: bidirectional encoder, `tanh`
bridge, `AttentionDecoder` with input feeding, `lecun_normal` projection)
with the config's architecture. `legacy_translator` turns the `model.keras`
of a run folder written before the recipe used the task model (a plain
functional model named `"seq2seq"`, with the same layer names) into one.
"""

import keras

import toolkit
from toolkit.losses import LabelSmoothedCrossEntropy
from toolkit.models.sentencepiece import BOS_ID as BOS
from toolkit.models.sentencepiece import EOS_ID as EOS
from toolkit.models.sentencepiece import PAD_ID as PAD
from toolkit.models.sentencepiece import UNK_ID as UNK

__all__ = ["PAD", "UNK", "BOS", "EOS", "ATTENTIONS", "CELLS"]

# Any attention name of `toolkit.attention.available()`, or none.
ATTENTIONS = (*toolkit.attention.available(), "none")
# Any cell name of `toolkit.layers.available()`.
CELLS = toolkit.layers.available()

# Models saved before the loss moved into the library name it
# `recipes.translation>LabelSmoothedCrossEntropy`; that name still loads (with this
# module imported). Its `ignore_class` default, 0, is `PAD`, as the old loss had it.
LEGACY_NAMES = {"recipes.translation>LabelSmoothedCrossEntropy": LabelSmoothedCrossEntropy}
keras.saving.get_custom_objects().update(LEGACY_NAMES)


def build_translator(config, preprocessor, **vocabulary_sizes):
    """The config's `toolkit.models.Translator` over `preprocessor`.

    `vocabulary_sizes` (`source_vocabulary_size`, `target_vocabulary_size`)
    build one of token ids, with `preprocessor=None`.
    """
    return toolkit.models.Translator(
        preprocessor,
        **vocabulary_sizes,
        cell=config.cell,
        attention=config.attention,
        units=config.units,
        embedding_dim=config.embedding_dim,
        encoder_layers=config.encoder_layers,
        dropout=config.dropout,
    )


def legacy_translator(model, config, preprocessor):
    """A `Translator` holding the weights of an old run's functional `model.keras`.

    The old model has the translator's layers under the same names; each
    layer's weights are copied by name.
    """
    translator = build_translator(config, preprocessor)
    for layer in model.layers:
        if layer.weights:
            translator.get_layer(layer.name).set_weights(layer.get_weights())
    return translator
