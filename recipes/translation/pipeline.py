"""Sentence pairs to padded token-id batches, and raw text to translations.

Tokenization is TensorFlow ops (keras-hub's `SentencePieceTokenizer`), so it
runs in `tf.data` on any backend; the model sees int32 batches padded with 0
to a multiple of `PAD_MULTIPLE` steps (few shapes for JAX to compile).
"""

import numpy as np

from recipes.runner.batching import length_sorted_batches
from recipes.runner.batching import pad_to_multiple
from recipes.translation.model import BOS
from recipes.translation.model import EOS
from recipes.translation.model import PAD
from toolkit.data import without_autotuning

PAD_MULTIPLE = 8
SORT_CHUNK = 32


def encode_sources(tokenizer, texts, max_tokens=None):
    """Source ids `(batch, time)` of a string batch (TensorFlow ops)."""
    ids = tokenizer(texts)
    if max_tokens is not None:
        ids = ids[:, :max_tokens]
    return pad_to_multiple(ids, PAD_MULTIPLE)


def encode_targets(tokenizer, texts, max_tokens=None):
    """`(decoder_inputs, targets)`: `<s> y1..yn` and `y1..yn </s>`, padded alike."""
    import tensorflow as tf

    ids = tokenizer(texts)
    if max_tokens is not None:
        ids = ids[:, : max_tokens - 1]
    ids = tf.cast(ids, tf.int32)
    column = tf.ones_like(ids[:, :1])
    decoder_inputs = tf.concat([column * BOS, ids], axis=1)
    targets = tf.concat([ids, column * EOS], axis=1)
    return pad_to_multiple(decoder_inputs, PAD_MULTIPLE), pad_to_multiple(targets, PAD_MULTIPLE)


def pair_dataset(tokenizers, split, config, training):
    """`((source_ids, decoder_input_ids), target_ids)` batches of a split.

    Training batches are shuffled every epoch, length-sorted within chunks of
    `SORT_CHUNK` batches, then shuffled as batches; their sides are cut to
    `config.max_tokens` tokens. Evaluation batches keep the split's order.
    """
    import tensorflow as tf

    source_tokenizer, target_tokenizer = tokenizers
    pairs = (tf.constant(split.sources, tf.string), tf.constant(split.targets, tf.string))
    dataset = tf.data.Dataset.from_tensor_slices(pairs)
    max_tokens = config.max_tokens if training else None

    def encode(sources, targets):
        decoder_inputs, target_ids = encode_targets(target_tokenizer, targets, max_tokens)
        return (encode_sources(source_tokenizer, sources, max_tokens), decoder_inputs), target_ids

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


def detokenize(pieces, tokens):
    """Plain strings of search results `(batch, time)`: control ids dropped.

    `pieces` is the target tokenizer's vocabulary, a string tensor
    (`tokenizer.get_vocabulary()`). SentencePiece text is its pieces joined
    with `▁` turned back into spaces. This is done with plain string ops
    instead of the tokenizer's detokenizer on purpose: a SavedModel holding
    two SentencePiece tokenizers restores both with the first one's model
    (tensorflow-text's kernel-owned resources), so the export may hold only
    the source tokenizer.
    """
    import tensorflow as tf

    tokens = tf.convert_to_tensor(tokens, tf.int32)
    kept = tf.ragged.boolean_mask(tokens, tokens > EOS)
    text = tf.strings.reduce_join(tf.gather(pieces, kept), axis=-1)
    return tf.strings.strip(tf.strings.regex_replace(text, "\u2581", " "))


def vocabulary_tensor(tokenizer):
    """The tokenizer's pieces as a string tensor, for `detokenize`.

    A byte piece of `byte_fallback` (`<0xE4>`) stands for its one byte, so
    joining pieces rebuilds the UTF-8 text of characters spelled in bytes.
    """
    import sentencepiece
    import tensorflow as tf

    processor = sentencepiece.SentencePieceProcessor(model_proto=tokenizer.proto)
    pieces = [
        bytes([int(piece[3:5], 16)]) if processor.IsByte(index) else str(piece).encode("utf-8")
        for index, piece in enumerate(tokenizer.get_vocabulary())
    ]
    return tf.constant(pieces, tf.string)


def translate_batches(
    seq2seq, tokenizers, texts, search_options, batch_size=64, search=None, protection=None
):
    """Translates a list of strings in batches (eager / jit per backend).

    `search` is an already compiled `compiled_search(seq2seq, search_options)`
    to reuse (default: compile one for this call). With a `protection`
    (`protection.SpanProtection`), the texts' protected spans are masked
    before tokenization and put back into the translations.

    Returns:
        `(translations, results)`: a list of strings, and per batch the
        search's dict as NumPy arrays (for alignments and lengths; its
        `source_ids` are those of the masked texts).
    """
    import keras
    import tensorflow as tf

    source_tokenizer, target_tokenizer = tokenizers
    if search is None:
        search = compiled_search(seq2seq, search_options)
    translations, results = [], []
    if not texts:
        return translations, results
    given = list(texts)
    if protection is not None:
        texts, _, spans = protection.mask(texts)
    # Tokenize in graph mode (tf.data): eager keras-hub tokenizers return lists.
    batches = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(batch_size)
    batches = batches.map(lambda batch: encode_sources(source_tokenizer, batch))
    pieces = vocabulary_tensor(target_tokenizer)
    for source_ids in batches:
        source_ids = source_ids.numpy()
        result = {k: keras.ops.convert_to_numpy(v) for k, v in search(source_ids).items()}
        result["source_ids"] = source_ids
        translations.extend(_to_text(detokenize(pieces, result["tokens"])))
        results.append(result)
    if protection is not None:
        translations = protection.unmask(translations, spans)
    # As the SavedModel: an empty or blank source translates to "" (not a made-up sentence).
    translations = [t if s.strip() else "" for s, t in zip(given, translations)]
    return translations, results


def _to_text(strings):
    # Byte pieces may end a translation inside a character: "replace" keeps the rest.
    values = strings.numpy().tolist() if hasattr(strings, "numpy") else list(strings)
    return [
        value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
        for value in values
    ]


def compiled_search(seq2seq, options):
    """`seq2seq.search` with `options`, as a `tf.function` or `jax.jit` function.

    Both read the model's current weights at every call, so one compiled
    search serves a whole training run (the dev BLEU of each epoch). Under
    JAX the weights are passed in as arguments through a
    `keras.StatelessScope`: a plain `jax.jit` would bake the values of the
    first call into the compiled function as constants.
    """
    import keras

    def search(source_ids):
        return seq2seq.search(source_ids, **options)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # No AutoGraph: the search runs under `jax.jit` too, so it has no Python
        # control flow on tensors, and converting the decoder's Python code took
        # about 3 s at a process's first trace.
        return tf.function(
            search, input_signature=[tf.TensorSpec((None, None), tf.int32)], autograph=False
        )
    if backend == "jax":
        import jax

        variables = list(seq2seq.model.variables)

        @jax.jit
        def stateless_search(values, source_ids):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return search(source_ids)

        return lambda source_ids: stateless_search([v.value for v in variables], source_ids)
    return search


def source_pieces(tokenizer, source_ids):
    """The subword pieces of one example's source ids (padding dropped)."""
    return [tokenizer.id_to_token(int(i)) for i in np.asarray(source_ids) if i != PAD]
