"""The recipe's tokenizers: SentencePiece models learnt from the training split.

`make_preprocessor(pairs, config)` learns the source and target models
(`toolkit.models.TranslatorPreprocessor.from_texts`: unigram SentencePiece,
ids 0 padding, 1 unknown, 2 start, 3 end) with the config's options: the
placeholders `｟0｠`, `｟1｠`, ... of placeholder protection (`protect`, see
`protection.py`) as user-defined symbols, so each is one piece
(SentencePiece leaves them out of its normalization), and `split_digits` /
`byte_fallback`. Training pairs are cut to `max_tokens` tokens a side.
"""

from toolkit.models import TranslatorPreprocessor

PAD_MULTIPLE = 8  # batches padded to a multiple of 8 steps: few shapes to compile


def make_preprocessor(pairs, config):
    """The preprocessor of a run, its tokenizers learnt from its training pairs.

    Args:
        pairs: The training `ParallelTexts`, already masked where the config
            protects spans (`protection.masked_pairs`).
        config: The run's `TranslationConfig` (vocabulary sizes, `max_tokens`,
            `protect`, `max_placeholders`, `split_digits`, `byte_fallback`).

    Returns:
        A `toolkit.models.TranslatorPreprocessor`.
    """
    from recipes.translation.protection import SpanProtection

    protection = SpanProtection.from_config(config)
    return TranslatorPreprocessor.from_texts(
        pairs.sources,
        pairs.targets,
        source_vocabulary_size=config.source_vocabulary,
        target_vocabulary_size=config.target_vocabulary,
        max_length=config.max_tokens,
        pad_to_multiple_of=PAD_MULTIPLE,
        user_defined_symbols=protection.symbols() if protection is not None else (),
        split_digits=config.split_digits,
        byte_fallback=config.byte_fallback,
    )
