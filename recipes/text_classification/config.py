"""The text-classification recipe's config: defaults, checks and presets."""

import dataclasses
import pathlib

import toolkit
from recipes.runner import ConfigError
from recipes.runner.config import check_training_values
from recipes.runner.config import check_values

BUNDLED_DATA = (
    pathlib.Path(__file__).resolve().parents[1] / "data" / "number_agreement" / "sentences.csv"
)
PRESETS = pathlib.Path(__file__).resolve().parent / "presets"
POOLINGS = ("attention", "final")


@dataclasses.dataclass
class TextClassificationConfig:
    """Every field can be set in a YAML preset or with `--set key=value`.

    The defaults are the tuned recipe for the bundled number-agreement data
    (`docs/datasets/number_agreement.md`): lower-cased words with punctuation
    kept as tokens, a 64-wide embedding, one bidirectional GRU of 64 units,
    additive attention pooling, dropout 0.3, Adam 1e-3, batches of 64, early
    stopping on dev accuracy.
    """

    EPOCHS_WITHOUT_BUDGET = 15  # what `epochs: null` means without max_train_minutes

    # Data.
    data: str | None = None  # None: the bundled data
    text_column: str = "text"
    label_column: str = "label"
    format: str | None = None  # None: from the file suffix
    encoding: str = "utf-8"
    dev_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 1234
    # Tokens.
    max_tokens: int = 20000  # vocabulary size, with padding and [UNK]
    max_length: int = 128  # training texts are cut to this many tokens
    # Model.
    cell: str = "gru"
    units: int = 64
    layers: int = 1
    bidirectional: bool = True
    embedding_dim: int = 64
    pooling: str = "attention"  # attention | final (the last state)
    attention_units: int = 64
    attention_heads: int = 1
    dropout: float = 0.3
    # Training.
    seed: int = 1
    epochs: int | None = None  # None: 15 without a time budget; with one, until it ends
    batch_size: int = 64
    learning_rate: float = 1e-3  # the peak of the schedule
    lr_schedule: str = "stable-decay"  # warm-up, peak, decay over the last 30% | cosine | constant
    global_clipnorm: float | None = 1.0  # gradients clipped to this global norm; null: none
    patience: int | None = 2
    max_train_minutes: float | None = None
    mixed_precision: bool = False
    strategy: str = "default"
    verbose: int = 1  # Keras fit verbosity: 0 silent, 1 progress bar, 2 a line per epoch
    # Reports.
    baseline: bool = True
    attention_examples: int = 8
    saved_model: bool = True  # false: no SavedModel (sweeps); the `export` command writes it

    def __post_init__(self):
        check_training_values(self)
        check_values(
            self,
            choices={"cell": toolkit.layers.available(), "pooling": POOLINGS},
            positive=(
                "max_tokens max_length units layers embedding_dim attention_units attention_heads"
            ).split(),
            non_negative=("attention_examples",),
        )
        if self.max_tokens < 3:
            raise ConfigError(
                f"Config key `max_tokens` expected at least 3 (padding, [UNK] and a word). "
                f"Received: {self.max_tokens!r}"
            )

    @property
    def data_path(self):
        """The data to read: `data`, or the bundled data when it is `None`."""
        return pathlib.Path(self.data) if self.data is not None else BUNDLED_DATA
