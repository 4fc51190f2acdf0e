"""Subword tokenizers learnt from the training split: SentencePiece in keras-hub.

`train_tokenizer(texts, vocabulary_size)` trains a SentencePiece unigram
model with the `sentencepiece` library (ids: 0 padding, 1 unknown, 2 start,
3 end - what `model.PAD, UNK, BOS, EOS` say) and wraps its proto in a
`keras_hub.tokenizers.SentencePieceTokenizer`, which tokenizes and
detokenizes as TensorFlow ops: in `tf.data` on any backend, and inside the
exported SavedModel. Detokenizing restores the text exactly (SentencePiece
keeps the spaces), so BLEU is computed on plain text.

`train_tokenizers(pairs, config)` trains the recipe's two tokenizers with the
config's options: the placeholders `｟0｠`, `｟1｠`, ... of placeholder
protection (`protect`, see `protection.py`) as user-defined symbols, so each
is one piece (SentencePiece leaves them out of its normalization), and
`split_digits` / `byte_fallback`.
"""

import io

import keras_hub


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
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
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
    """The in-graph tokenizer of a serialized SentencePiece model."""
    return keras_hub.tokenizers.SentencePieceTokenizer(proto=proto, dtype="int32")


def train_tokenizer(texts, vocabulary_size, **options):
    """`train_proto`, wrapped as a `SentencePieceTokenizer`; returns `(tokenizer, proto)`.

    `options` are `train_proto`'s keyword arguments.
    """
    proto = train_proto(texts, vocabulary_size, **options)
    return tokenizer_from_proto(proto), proto


def train_tokenizers(pairs, config):
    """The source and target tokenizers of a run, learnt from its training pairs.

    Args:
        pairs: The training `ParallelTexts`, already masked where the config
            protects spans (`protection.masked_pairs`).
        config: The run's `TranslationConfig` (vocabulary sizes, `protect`,
            `max_placeholders`, `split_digits`, `byte_fallback`).

    Returns:
        `((source_tokenizer, source_proto), (target_tokenizer, target_proto))`.
    """
    from recipes.translation.protection import SpanProtection

    protection = SpanProtection.from_config(config)
    options = {
        "user_defined_symbols": protection.symbols() if protection is not None else (),
        "split_digits": config.split_digits,
        "byte_fallback": config.byte_fallback,
    }
    return (
        train_tokenizer(pairs.sources, config.source_vocabulary, **options),
        train_tokenizer(pairs.targets, config.target_vocabulary, **options),
    )
