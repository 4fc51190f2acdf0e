"""What the recipe adds to `toolkit.models.TextClassifier`: its config's names and its batches.

The model - preprocessor (strings -> token ids), recurrent backbone, softmax
head, `fit` / `predict` on raw texts, `.keras` saving - is
`toolkit.models.TextClassifier`. The recipe adds three things:

* `classifier_arguments(config)`: the architecture arguments of a config (its
  field names are the recipe's: `layers` is the library's `num_layers`,
  `pooling: final` its `"last"`);
* `token_dataset(...)`: the `(token_ids, label_index)` batches `fit` trains and
  validates on. Training batches hold texts of similar length (little
  padding, so a step runs fewer masked time steps) and cut to `max_length`
  tokens; dev, test and serving see whole texts.
"""

from recipes.runner.batching import length_sorted_batches
from toolkit.data import text_dataset

SORT_CHUNK = 32  # batches per chunk sorted by length before batching
POOLING = {"attention": "attention", "final": "last"}  # the recipe's name -> the library's


def classifier_arguments(config):
    """The `toolkit.models.TextClassifier` architecture arguments of a config."""
    return dict(
        cell=config.cell,
        units=config.units,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        embedding_dim=config.embedding_dim,
        pooling=POOLING[config.pooling],
        attention_units=config.attention_units,
        attention_heads=config.attention_heads,
        dropout=config.dropout,
    )


def token_dataset(preprocessor, split, class_names, config, training):
    """`(token_ids, label_index)` batches of a split for `fit`.

    Training batches are shuffled every epoch and length-sorted within chunks
    of `SORT_CHUNK` batches (then the batches are shuffled), so a batch holds
    texts of similar length; their texts are cut to `config.max_length`
    tokens. Evaluation batches keep the split's order and whole texts. Both
    are tokenized by the model's `preprocessor` (a copy of it that cuts, for
    training) in `tf.data`, without autotuning (`text_dataset`).
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    if not training:
        dataset = text_dataset(split.texts, split.labels, class_names, config.batch_size)
        return dataset.map(preprocessor, num_parallel_calls=autotune)

    cutting = type(preprocessor).from_config(
        {**preprocessor.get_config(), "sequence_length": config.max_length}
    )
    chunks = text_dataset(
        split.texts,
        split.labels,
        class_names,
        config.batch_size * SORT_CHUNK,
        shuffle=True,
        seed=config.seed,
    )
    dataset = length_sorted_batches(
        chunks,
        len(split.texts),
        config.batch_size,
        SORT_CHUNK,
        lambda texts, labels: tf.strings.length(texts),
        config.seed,
    )
    return dataset.map(cutting, num_parallel_calls=autotune).prefetch(autotune)
