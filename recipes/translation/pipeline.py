"""Sentence pairs to length-sorted token-id batches, and texts to translations.

The preprocessor (`toolkit.models.TranslatorPreprocessor`) tokenizes with
TensorFlow ops, so batches are made in `tf.data` on any backend; the model
sees int32 batches padded with 0 to a multiple of 8 steps.
"""

import numpy as np

from recipes.runner.batching import length_sorted_batches
from recipes.translation.model import PAD
from toolkit.data import without_autotuning

SORT_CHUNK = 32


def pair_dataset(preprocessor, split, config, training):
    """`((source_ids, decoder_input_ids), target_ids)` batches of a split.

    Training batches are shuffled every epoch, length-sorted within chunks of
    `SORT_CHUNK` batches, then shuffled as batches; their sides are cut to
    `config.max_tokens` tokens. Evaluation batches keep the split's order and
    whole sentences.
    """
    import tensorflow as tf

    pairs = (tf.constant(split.sources, tf.string), tf.constant(split.targets, tf.string))
    dataset = tf.data.Dataset.from_tensor_slices(pairs)
    max_tokens = config.max_tokens if training else None

    def encode(sources, targets):
        decoder_inputs, target_ids = preprocessor.encode_targets(targets, max_tokens)
        return (preprocessor.encode_sources(sources, max_tokens), decoder_inputs), target_ids

    if training:
        dataset = dataset.shuffle(len(split), seed=config.seed, reshuffle_each_iteration=True)
        dataset = length_sorted_batches(
            dataset.batch(config.batch_size * SORT_CHUNK),
            len(split),
            config.batch_size,
            SORT_CHUNK,
            lambda sources, targets: tf.strings.length(sources) + tf.strings.length(targets),
            config.seed,
        )
    else:
        dataset = dataset.batch(config.batch_size)
    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    return without_autotuning(dataset.prefetch(tf.data.AUTOTUNE))


def translate_batches(translator, texts, search_options, batch_size=64, protection=None):
    """Translates a list of strings with `translator.translate` (compiled search).

    With a `protection` (`protection.SpanProtection`), the texts' protected
    spans are masked before tokenization and put back into the translations.

    Returns:
        `(translations, results)`: a list of strings, and per batch the
        search's dict as NumPy arrays (for alignments and lengths; its
        `source_ids` are those of the masked texts).
    """
    texts = list(texts)
    if not texts:
        return [], []
    if protection is not None:
        texts, _, spans = protection.mask(texts)
    translations, results = translator.translate(
        texts, batch_size=batch_size, return_results=True, **search_options
    )
    if protection is not None:
        translations = protection.unmask(translations, spans)
    return translations, results


def source_pieces(tokenizer, source_ids):
    """The subword pieces of one example's source ids (padding dropped)."""
    return [tokenizer.id_to_token(int(i)) for i in np.asarray(source_ids) if i != PAD]
