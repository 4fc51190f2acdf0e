"""Input-pipeline pieces the recipes share: padding and length-sorted batches.

* `pad_to_multiple(ids, multiple)`: pads a batch of token ids on the right
  with 0 to a multiple of `multiple` steps, so JAX compiles a handful of
  shapes and the masked padding changes no result.
* `length_sorted_batches(chunks, ...)`: turns shuffled chunks of examples
  into batches of similar length (little padding), in random batch order.
"""


def pad_to_multiple(ids, multiple):
    """Dense int32 ids `(batch, time)`, padded with 0 to a multiple of `multiple`.

    `ids` may be ragged (padded with 0 first). The result has at least
    `multiple` steps. TensorFlow ops: call it in `tf.data` or eagerly.
    """
    import tensorflow as tf

    if isinstance(ids, tf.RaggedTensor):
        ids = ids.to_tensor(default_value=0)
    ids = tf.cast(ids, tf.int32)
    length = tf.shape(ids)[1]
    padded = tf.maximum((length + multiple - 1) // multiple * multiple, multiple)
    return tf.pad(ids, [[0, 0], [0, padded - length]])


def length_sorted_batches(chunks, examples, batch_size, chunk_batches, length, seed):
    """Batches of similar length from a dataset of shuffled chunks.

    Args:
        chunks: A `tf.data.Dataset` of tuples of tensors, each a chunk of
            `batch_size * chunk_batches` examples (the last one may be
            smaller), already shuffled.
        examples: Number of examples in all the chunks.
        batch_size: Examples per batch.
        chunk_batches: Batches per chunk.
        length: Function of a chunk's tensors giving each example's length
            (the sort key).
        seed: Seed of the batch shuffle.

    Returns:
        A dataset of batches (tuples, as the chunks), sorted by length within
        each chunk and shuffled, with its number of batches known.
    """
    import tensorflow as tf

    def sorted_batches(*columns):
        order = tf.argsort(length(*columns))
        columns = tuple(tf.gather(column, order) for column in columns)
        return tf.data.Dataset.from_tensor_slices(columns).batch(batch_size)

    full_chunks, rest = divmod(examples, batch_size * chunk_batches)
    batches = full_chunks * chunk_batches + -(-rest // batch_size)
    dataset = chunks.flat_map(sorted_batches)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.shuffle(chunk_batches, seed=seed)
