"""The translation recipe's config: defaults, checks and presets."""

import dataclasses
import pathlib

from recipes.runner.config import check_training_values
from recipes.runner.config import check_values
from recipes.translation.model import ATTENTIONS
from recipes.translation.model import CELLS
from recipes.translation.protection import DEFAULT_SPAN_CLASSES
from recipes.translation.protection import SpanProtection

MONITORS = ("loss", "bleu")
DEFAULT_DATA = (
    pathlib.Path(__file__).resolve().parents[1] / "data" / "translation" / "bible_en_es.tsv"
)


@dataclasses.dataclass
class TranslationConfig:
    """Every field can be set in a YAML preset or with `--set key=value`.

    Defaults tuned on the bundled corpus under an 8-minute CPU budget
    (`python -m benchmarks.translation_peer --minutes 8`): Adam 2e-3 with
    label smoothing 0.1 reached test BLEU 17.5 (beam 5) where 1e-3 without
    smoothing reached 14.9; the best epoch is chosen on dev BLEU.

    Placeholder protection (`protect`, on by default): spans that must be
    copied verbatim (`protected_spans`: URLs, e-mail addresses, format
    specifiers such as `%s` `{0}` `$1`, command-line options, paths,
    integers; `markup` can be added) are replaced with numbered placeholders
    `｟0｠`..`｟max_placeholders-1｠` in the sources before tokenization and put
    back into the translations, in `translate_texts` and in the SavedModel's
    `translate` signature alike. Training pairs mask only the spans found
    on both sides. Scores are computed on the final, unmasked text. A run
    folder whose `config.json` has no `protect` key loads without
    protection. See `recipes/translation/protection.py` and
    `docs/translation_protection.md`.
    """

    EPOCHS_WITHOUT_BUDGET = 30  # what `epochs: null` means without max_train_minutes

    # Data.
    data: str | None = None  # None: the bundled corpus
    format: str | None = None  # None: aligned when <data>.<source_language> exists, else TSV
    source_language: str | None = None  # suffixes of aligned files (train.en / train.de)
    target_language: str | None = None
    source_column: int = 0
    target_column: int = 1
    encoding: str = "utf-8"
    max_words: int | None = 50  # longer pairs are skipped (counted in data.json)
    dev_fraction: float = 0.05
    test_fraction: float = 0.05
    split_seed: int = 1234
    # Tokens.
    source_vocabulary: int = 4000
    target_vocabulary: int = 4000
    max_tokens: int = 64  # training pairs are cut to this many subword tokens a side
    protect: bool = True  # placeholder protection (docs/translation_protection.md); false: none
    protected_spans: tuple[str, ...] = DEFAULT_SPAN_CLASSES  # or markup too: protection.py
    max_placeholders: int = 16  # ｟0｠ .. ｟15｠, one piece each; later spans stay text
    split_digits: bool = False  # SentencePiece: each digit its own piece
    byte_fallback: bool = False  # SentencePiece: unknown characters as UTF-8 byte pieces
    # Model.
    cell: str = "gru"  # any name of toolkit.layers.available(): gru, lstm, mgu, slstm, ...
    attention: str = "luong-general"  # toolkit.attention.available(): bahdanau, ... | none
    units: int = 256
    embedding_dim: int = 128
    encoder_layers: int = 1
    dropout: float = 0.2
    label_smoothing: float = 0.1
    # Training.
    seed: int = 1
    epochs: int | None = None  # None: 30 without a time budget; with one, until it ends
    batch_size: int = 64
    learning_rate: float = 2e-3  # the peak of the schedule
    lr_schedule: str = "stable-decay"  # warm-up, peak, decay over the last 30% | cosine | constant
    global_clipnorm: float | None = 1.0  # gradients clipped to this global norm; null: none
    clipnorm: float | None = None  # per-variable clipping instead of global_clipnorm when set
    monitor: str = "bleu"  # dev metric of the best epoch and early stopping: loss | bleu
    dev_bleu_pairs: int | None = 500  # dev pairs decoded (greedy) each epoch for `bleu`
    patience: int | None = 3
    max_train_minutes: float | None = None
    mixed_precision: bool = False
    strategy: str = "default"
    verbose: int = 1
    # Decoding and reports.
    beam_width: int = 5  # 1 or more; `greedy` decoding is beam_width=1
    length_penalty: float = 1.0
    max_length_ratio: float = 2.0
    max_length_offset: int = 10
    examples: int = 10
    attention_examples: int = 4
    saved_model: bool = True  # false: no SavedModel (sweeps); the `export` command writes it

    def __post_init__(self):
        check_training_values(self)
        check_values(
            self,
            choices={"cell": list(CELLS), "attention": list(ATTENTIONS), "monitor": MONITORS},
            positive=(
                "source_vocabulary target_vocabulary max_tokens units embedding_dim "
                "encoder_layers beam_width dev_bleu_pairs"
            ).split(),
            fractions=("label_smoothing",),
            positive_numbers=("max_length_ratio", "clipnorm"),
        )
        # Unknown span classes and a bad `max_placeholders` fail when the
        # config is loaded, not when the run starts.
        SpanProtection.of_config_classes(self)
