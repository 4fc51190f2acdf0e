"""The recurrent text backbone: token ids -> one feature vector per text."""

import keras

from toolkit.arguments import check_bool
from toolkit.arguments import check_choice
from toolkit.arguments import check_positive_int
from toolkit.arguments import check_rate
from toolkit.attention.pooling import AttentionPooling
from toolkit.layers.names import available
from toolkit.layers.names import get
from toolkit.models.masked_mean import MaskedMeanPooling
from toolkit.models.presets import load_backbone_preset
from toolkit.models.presets import save_backbone_preset
from toolkit.models.task import FunctionalAttributes

POOLINGS = ("attention", "last", "mean")


@keras.saving.register_keras_serializable(package="toolkit")
class RecurrentTextBackbone(FunctionalAttributes, keras.Model):
    """Token ids -> pooled features: embedding, recurrent layers, pooling.

    The backbone of `toolkit.models.TextClassifier`, in keras-hub's sense: the
    architecture without a task head. A functional `keras.Model`:

    ```
    token_ids (batch, time), 0 = padding
      -> Embedding(vocabulary_size, embedding_dim, mask_zero=True) -> Dropout
      -> num_layers x toolkit.layers.get(cell)(units)   (each in Bidirectional)
      -> pooling: "attention" AttentionPooling(attention_units, attention_heads)
                  "last"      the last layer's final output (both directions)
                  "mean"      the mean over the valid steps
      -> (batch, features)
    ```

    with `features = units * (2 if bidirectional else 1) * (attention_heads
    if pooling == "attention" else 1)`. The mask of the embedding (id 0)
    reaches every recurrent layer and the pooling, so padding - on either
    side, of any length - never changes a text's features. A text with no
    token at all gets zero features with `"attention"` and `"mean"`, and the
    final output of the initial (zero) state with `"last"`, i.e. zeros.

    Layer names: `embedding`, `embedding_dropout`, `<cell>_<i>` (wrapped in
    `bidirectional_<i>`), `attention_pooling` or `mean_pooling`, so
    `backbone.get_layer("attention_pooling").output[1]` gives the attention
    weights of a functional sub-model.

    Args:
        vocabulary_size: Positive integer, the number of token ids (padding
            and out-of-vocabulary ids included).
        cell: String (default `"gru"`), a cell name of
            `toolkit.layers.available()`.
        units: Positive integer (default `64`), units of each recurrent layer
            (per direction).
        num_layers: Positive integer (default `1`), stacked recurrent layers.
        bidirectional: Boolean (default `True`), wrap each recurrent layer in
            `keras.layers.Bidirectional` (outputs concatenated).
        embedding_dim: Positive integer (default `64`).
        pooling: `"attention"` (default), `"last"` or `"mean"`.
        attention_units: Positive integer (default `64`), hidden size of the
            attention pooling (used with `pooling="attention"`).
        attention_heads: Positive integer (default `1`), attention heads.
        dropout: Float in `[0, 1)` (default `0.0`), dropout on the embeddings.
        dtype: Optional dtype policy of every layer (default: the global one).
        **kwargs: Model arguments (`name`, `trainable`).

    Call arguments:
        token_ids: int `(batch, time)`.
        training: Boolean, training mode (dropout).

    Returns:
        float `(batch, features)`.

    Example:

    >>> import numpy as np, toolkit
    >>> backbone = toolkit.models.RecurrentTextBackbone(
    ...     vocabulary_size=20, units=4, embedding_dim=6, attention_units=5)
    >>> features = backbone(np.array([[3, 7, 2, 0], [5, 0, 0, 0]]))
    >>> tuple(features.shape)
    (2, 8)
    """

    def __init__(
        self,
        vocabulary_size,
        cell="gru",
        units=64,
        num_layers=1,
        bidirectional=True,
        embedding_dim=64,
        pooling="attention",
        attention_units=64,
        attention_heads=1,
        dropout=0.0,
        dtype=None,
        **kwargs,
    ):
        vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
        cell = check_choice("cell", cell, available())
        units = check_positive_int("units", units)
        num_layers = check_positive_int("num_layers", num_layers)
        bidirectional = check_bool("bidirectional", bidirectional)
        embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        pooling = check_choice("pooling", pooling, POOLINGS)
        attention_units = check_positive_int("attention_units", attention_units)
        attention_heads = check_positive_int("attention_heads", attention_heads)
        dropout = check_rate("dropout", dropout)
        if isinstance(dtype, dict):
            dtype = keras.dtype_policies.deserialize(dtype)

        # === Layers ===
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, dtype=dtype, name="embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embedding_dropout"
        )
        layer_class = get(cell)
        self.recurrent_layers = []
        for index in range(num_layers):
            last = index == num_layers - 1
            layer = layer_class(
                units,
                return_sequences=not (last and pooling == "last"),
                dtype=dtype,
                name=f"{cell}_{index}",
            )
            if bidirectional:
                layer = keras.layers.Bidirectional(
                    layer, dtype=dtype, name=f"bidirectional_{index}"
                )
            self.recurrent_layers.append(layer)
        if pooling == "attention":
            self.pooling_layer = AttentionPooling(
                attention_units, heads=attention_heads, dtype=dtype, name="attention_pooling"
            )
        elif pooling == "mean":
            self.pooling_layer = MaskedMeanPooling(dtype=dtype, name="mean_pooling")
        else:  # the last recurrent layer returns its final output
            self.pooling_layer = None

        # === Functional Model ===
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        x = self.embedding_dropout(self.token_embedding(token_ids))
        for layer in self.recurrent_layers:
            x = layer(x)
        if pooling == "attention":
            x, _ = self.pooling_layer(x)
        elif pooling == "mean":
            x = self.pooling_layer(x)
        super().__init__(inputs=token_ids, outputs=x, **kwargs)
        if dtype is not None:
            self.dtype_policy = keras.dtype_policies.get(dtype)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.cell = cell
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.embedding_dim = embedding_dim
        self.pooling = pooling
        self.attention_units = attention_units
        self.attention_heads = attention_heads
        self.dropout = dropout

    def get_config(self):
        # Not the functional config: the constructor's arguments rebuild it.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "vocabulary_size": self.vocabulary_size,
            "cell": self.cell,
            "units": self.units,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "embedding_dim": self.embedding_dim,
            "pooling": self.pooling,
            "attention_units": self.attention_units,
            "attention_heads": self.attention_heads,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def save_to_preset(self, preset_dir):
        """Writes the backbone to a preset folder (`config.json`, `model.weights.h5`).

        Args:
            preset_dir: Path of a local folder, created if missing.
        """
        save_backbone_preset(self, preset_dir)

    @classmethod
    def from_preset(cls, preset_dir, load_weights=True, **kwargs):
        """The backbone saved in a preset folder (by this class or a task).

        Args:
            preset_dir: Path of a local preset folder.
            load_weights: Boolean (default `True`); `False` gives fresh weights.
            **kwargs: Constructor arguments that replace the saved ones.

        Returns:
            A `RecurrentTextBackbone`.
        """
        return load_backbone_preset(cls, preset_dir, load_weights, **kwargs)
