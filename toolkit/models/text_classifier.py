"""The text classifier task: raw strings -> class probabilities."""

import keras

from toolkit.arguments import check_positive_int
from toolkit.arguments import check_rate
from toolkit.models.backbone import RecurrentTextBackbone
from toolkit.models.task import Task


def _check_num_classes(num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            "Argument `num_classes` expected an integer of at least 2. "
            f"Received: num_classes={num_classes!r}"
        )
    return num_classes


def _vocabulary_size_of(preprocessor, vocabulary_size):
    """The embedding's size: `vocabulary_size` checked against the preprocessor's."""
    if vocabulary_size is not None:
        vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
    known = None if preprocessor is None else preprocessor.vocabulary_size()
    if vocabulary_size is None and known is None:
        if preprocessor is None:
            raise ValueError(
                "Argument `vocabulary_size` expected a positive integer when there is no "
                "`preprocessor`. Received: vocabulary_size=None"
            )
        raise ValueError(
            "Argument `preprocessor` expected a preprocessor with a vocabulary (call "
            "`preprocessor.adapt(texts)` or pass `vocabulary=[...]`), or pass "
            "`vocabulary_size`. Received: a preprocessor without a vocabulary"
        )
    if vocabulary_size is not None and known is not None and known != vocabulary_size:
        raise ValueError(
            f"Argument `vocabulary_size` expected the preprocessor's vocabulary size, {known}. "
            f"Received: vocabulary_size={vocabulary_size}"
        )
    return known if vocabulary_size is None else vocabulary_size


@keras.saving.register_keras_serializable(package="toolkit")
class TextClassifier(Task):
    """Recurrent text classifier: raw strings -> class probabilities.

    keras-hub's task shape on the toolkit's recurrent layers: a
    `preprocessor` (strings -> token ids, a
    `toolkit.models.TextClassifierPreprocessor`), a `backbone` (token ids ->
    pooled features, a `toolkit.models.RecurrentTextBackbone` built from the
    architecture arguments) and a head (dropout, then a softmax `Dense`, in
    float32 under mixed precision):

    ```
    texts -> preprocessor -> token_ids (batch, time), 0 = padding
      -> Embedding(mask_zero) -> Dropout -> num_layers x [Bidirectional] <cell>
      -> "attention" | "last" | "mean" pooling -> Dropout -> Dense(softmax)
      -> probabilities (batch, num_classes)
    ```

    `fit`, `evaluate` and `predict` take raw texts (a list or array of
    strings, or a batched `tf.data.Dataset` of `(texts, labels)`): the texts
    are preprocessed in `tf.data`, outside the model, so the model trains and
    predicts on every backend (JAX included). Token ids (integer arrays or
    datasets) go to the model unchanged, and so does everything when
    `preprocessor` is `None`. Calling the model (`model(x)`) takes token ids
    only. Labels are class indices `0 .. num_classes - 1`.

    Padded positions never change a result: the embedding's mask (id 0)
    reaches every recurrent layer and the pooling. A text without tokens (`""`)
    pools to zero features, so its probabilities are the softmax of the
    head's bias; no texts give `(0, num_classes)`.

    A new model is compiled with Adam (learning rate 1e-3, gradients clipped
    to a global norm of 1.0), sparse categorical cross-entropy and accuracy;
    `compile` again to change them. `save` / `keras.models.load_model` need
    only `import toolkit`; `save_to_preset` / `from_preset` write and read a
    local folder in keras-hub's layout.

    Args:
        num_classes: Integer of at least 2, the number of classes.
        preprocessor: A `TextClassifierPreprocessor` with its vocabulary
            (given, or learnt with `adapt`), or `None` (default) for a model of
            token ids (then `vocabulary_size` is required).
        vocabulary_size: Optional positive integer (default `None`: the
            preprocessor's `vocabulary_size()`; given with a preprocessor,
            the two must agree).
        cell: String (default `"gru"`), any of `toolkit.layers.available()`.
        units: Positive integer (default `64`), units per recurrent layer and
            direction.
        num_layers: Positive integer (default `1`), stacked recurrent layers.
        bidirectional: Boolean (default `True`).
        embedding_dim: Positive integer (default `64`).
        pooling: `"attention"` (default; `toolkit.attention.AttentionPooling`),
            `"last"` (the final output of the last layer, both directions) or
            `"mean"` (the mean over the valid steps).
        attention_units: Positive integer (default `64`), the attention's
            hidden size (with `pooling="attention"`).
        attention_heads: Positive integer (default `1`).
        dropout: Float in `[0, 1)` (default `0.3`), on the embeddings and on
            the pooled features.
        dtype: Optional dtype policy of the backbone (default: the global one).
        **kwargs: Model arguments (`name`, `trainable`).

    Call arguments:
        token_ids: int `(batch, time)`, 0 at padding.
        training: Boolean, training mode (dropout).

    Returns:
        float32 probabilities `(batch, num_classes)`.

    Attributes:
        backbone: The `RecurrentTextBackbone`.
        preprocessor: The preprocessor, or `None`.

    Example:

    >>> import toolkit
    >>> texts = ["a good film", "good, very good", "a bad film", "bad and dull"]
    >>> labels = [1, 1, 0, 0]
    >>> preprocessor = toolkit.models.TextClassifierPreprocessor()
    >>> preprocessor.adapt(texts)
    >>> classifier = toolkit.models.TextClassifier(
    ...     num_classes=2, preprocessor=preprocessor,
    ...     units=4, embedding_dim=4, attention_units=4)
    >>> history = classifier.fit(texts, labels, epochs=1, verbose=0)
    >>> classifier.predict(["good", "", "a dull film"], verbose=0).shape
    (3, 2)
    >>> classifier.predict([], verbose=0).shape
    (0, 2)
    """

    head_arguments = ("num_classes",)

    def __init__(
        self,
        num_classes,
        preprocessor=None,
        vocabulary_size=None,
        cell="gru",
        units=64,
        num_layers=1,
        bidirectional=True,
        embedding_dim=64,
        pooling="attention",
        attention_units=64,
        attention_heads=1,
        dropout=0.3,
        dtype=None,
        **kwargs,
    ):
        num_classes = _check_num_classes(num_classes)
        vocabulary_size = _vocabulary_size_of(preprocessor, vocabulary_size)
        dropout = check_rate("dropout", dropout)

        # === Layers ===
        self.backbone = RecurrentTextBackbone(
            vocabulary_size,
            cell=cell,
            units=units,
            num_layers=num_layers,
            bidirectional=bidirectional,
            embedding_dim=embedding_dim,
            pooling=pooling,
            attention_units=attention_units,
            attention_heads=attention_heads,
            dropout=dropout,
            dtype=dtype,
            name="backbone",
        )
        self.preprocessor = preprocessor
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=self.backbone.dtype_policy, name="dropout"
        )
        # float32 whatever the policy: a stable softmax and loss.
        self.output_dense = keras.layers.Dense(
            num_classes, activation="softmax", dtype="float32", name="probabilities"
        )

        # === Functional Model ===
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        pooled = self.backbone(token_ids)
        probabilities = self.output_dense(self.output_dropout(pooled))
        super().__init__(inputs=token_ids, outputs=probabilities, **kwargs)
        # As keras-hub's tasks: the backbone's policy, so that `compile` adds
        # loss scaling for a mixed_float16 model whatever the global policy.
        self.dtype_policy = self.backbone.dtype_policy

        # === Config ===
        self.num_classes = num_classes
        self.vocabulary_size = vocabulary_size
        self.dropout = dropout
        self.compile()

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with the classifier's defaults for `"auto"`.

        Args:
            optimizer: `"auto"` (default: Adam, learning rate 1e-3, global
                gradient norm clipped to 1.0) or any `keras.Model.compile`
                optimizer.
            loss: `"auto"` (default: sparse categorical cross-entropy of the
                probabilities) or any Keras loss.
            metrics: `"auto"` (default: `accuracy`, sparse categorical) or a
                list of Keras metrics.
            **kwargs: Other `keras.Model.compile` arguments.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=1e-3, global_clipnorm=1.0)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy()
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def get_config(self):
        # Not the functional config: the constructor's arguments rebuild the model.
        backbone = self.backbone
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "preprocessor": (
                None if self.preprocessor is None else keras.layers.serialize(self.preprocessor)
            ),
            "vocabulary_size": self.vocabulary_size,
            "cell": backbone.cell,
            "units": backbone.units,
            "num_layers": backbone.num_layers,
            "bidirectional": backbone.bidirectional,
            "embedding_dim": backbone.embedding_dim,
            "pooling": backbone.pooling,
            "attention_units": backbone.attention_units,
            "attention_heads": backbone.attention_heads,
            "dropout": self.dropout,
            "dtype": keras.dtype_policies.serialize(backbone.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("preprocessor"), dict):
            config["preprocessor"] = keras.layers.deserialize(config["preprocessor"])
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
