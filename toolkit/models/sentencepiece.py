"""SentencePiece subword models learnt from texts, as keras-hub tokenizers.

`train_proto(texts, vocabulary_size, ...)` trains a unigram model with the
`sentencepiece` library (ids: 0 padding, 1 unknown, 2 start, 3 end) and
returns its serialized proto; `tokenizer_from_proto` wraps a proto in a
`keras_hub.tokenizers.SentencePieceTokenizer`, which tokenizes as TensorFlow
ops (in `tf.data` on any backend, and inside SavedModels). Detokenizing
restores the text exactly (SentencePiece keeps the spaces).
"""

import io

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


def train_proto(
    texts,
    vocabulary_size,
    character_coverage=1.0,
    user_defined_symbols=(),
    split_digits=False,
    byte_fallback=False,
):
    """A serialized SentencePiece unigram model trained on `texts`.

    Args:
        texts: Iterable of strings.
        vocabulary_size: Integer, an upper bound: a small corpus gets fewer
            pieces instead of an error.
        character_coverage: Float, the share of characters the pieces cover.
            Defaults to 1.0.
        user_defined_symbols: Strings that are always one piece each
            (wherever they occur, even inside words). Defaults to none.
        split_digits: Boolean, each digit its own piece. Defaults to False.
        byte_fallback: Boolean, characters outside the vocabulary become
            UTF-8 byte pieces (`<0xE4>`) instead of `<unk>`. Defaults to False.

    Returns:
        The model proto's bytes.
    """
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)),
        model_writer=model,
        vocab_size=vocabulary_size,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=character_coverage,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        pad_piece="<pad>",
        unk_piece="<unk>",
        bos_piece="<s>",
        eos_piece="</s>",
        normalization_rule_name="nmt_nfkc",
        user_defined_symbols=list(user_defined_symbols),
        split_digits=split_digits,
        byte_fallback=byte_fallback,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def tokenizer_from_proto(proto):
    """The in-graph tokenizer (int32 ids) of a serialized SentencePiece model."""
    import keras_hub

    return keras_hub.tokenizers.SentencePieceTokenizer(proto=proto, dtype="int32")


def train_tokenizer(texts, vocabulary_size, **options):
    """`train_proto`, wrapped as a `SentencePieceTokenizer`; returns `(tokenizer, proto)`.

    `options` are `train_proto`'s keyword arguments.
    """
    proto = train_proto(texts, vocabulary_size, **options)
    return tokenizer_from_proto(proto), proto
