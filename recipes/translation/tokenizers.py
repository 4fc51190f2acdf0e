"""Subword tokenizers learnt from the training split: SentencePiece in keras-hub.

`train_tokenizer(texts, vocabulary_size)` trains a SentencePiece unigram
model with the `sentencepiece` library (ids: 0 padding, 1 unknown, 2 start,
3 end - what `model.PAD, UNK, BOS, EOS` say) and wraps its proto in a
`keras_hub.tokenizers.SentencePieceTokenizer`, which tokenizes and
detokenizes as TensorFlow ops: in `tf.data` on any backend, and inside the
exported SavedModel. Detokenizing restores the text exactly (SentencePiece
keeps the spaces), so BLEU is computed on plain text.
"""

import io

import keras_hub


def train_proto(texts, vocabulary_size, character_coverage=1.0):
    """A serialized SentencePiece unigram model trained on `texts`.

    `vocabulary_size` is an upper bound: a small corpus gets fewer pieces
    instead of an error.
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
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def tokenizer_from_proto(proto):
    """The in-graph tokenizer of a serialized SentencePiece model."""
    return keras_hub.tokenizers.SentencePieceTokenizer(proto=proto, dtype="int32")


def train_tokenizer(texts, vocabulary_size):
    """`train_proto`, wrapped as a `SentencePieceTokenizer`; returns `(tokenizer, proto)`."""
    proto = train_proto(texts, vocabulary_size)
    return tokenizer_from_proto(proto), proto
