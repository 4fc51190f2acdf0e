"""Self-attentive pooling of a sequence (Yang et al., 2016; Lin et al., 2017)."""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.arguments import resolve_argument
from toolkit.arguments import serialize_argument
from toolkit.attention.base import _rank_of
from toolkit.attention.base import masked_softmax


def _check_non_negative_float(argument_name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(
            f"Argument `{argument_name}` expected a non-negative number. "
            f"Received: {argument_name}={value!r}"
        )
    return float(value)


def _redundancy_penalty(weights):
    """`mean_batch ||A A^T - I||_F^2` (float32) of `(batch, heads, time)` weights."""
    weights = ops.cast(weights, "float32")
    gram = ops.matmul(weights, ops.swapaxes(weights, 1, 2))
    identity = ops.eye(weights.shape[1], dtype="float32")
    return ops.mean(ops.sum(ops.square(gram - identity), axis=(1, 2)))


@keras.saving.register_keras_serializable(package="toolkit")
class AttentionPooling(keras.layers.Layer):
    """Self-attentive pooling of a sequence into a fixed-size vector.

    For classification: the layer learns which time steps matter and returns
    their weighted sum. With `h_t` the input at step `t`, one head
    (`heads=1`) is the attention of Yang et al. (2016):

    ```
    u_t = tanh(W h_t + b)
    a_t = exp(u_t . u_w) / sum_k exp(u_k . u_w)   # over unmasked steps only
    s = sum_t a_t h_t                             # (batch, features)
    ```

    Several heads (`heads=r`) are the structured self-attention of Lin et al.
    (2017), with `H` the `(time, features)` input and `W_s1 = W`,
    `W_s2 = C^T`:

    ```
    A = softmax(W_s2 tanh(W_s1 H^T + b))          # (r, time), row-wise softmax
    M = A H                                       # (r, features)
    s = concat(M_1, ..., M_r)                     # (batch, r * features)
    ```

    Lin et al. have no bias `b`: `use_bias=False` gives their model exactly.
    With `penalty=p > 0` the layer adds `p * mean_batch ||A A^T - I||_F^2`
    (Lin et al.'s redundancy penalty) to the model's losses with `add_loss`.

    Masked steps (the Keras mask of `inputs`, e.g. from
    `Embedding(mask_zero=True)` or `Masking`) get exactly zero weight; a
    sequence with no valid step pools to zeros (never NaN). The softmax is
    computed in float32 under mixed precision.

    Weights: `kernel` `W` `(features, units)`, `bias` `b` `(units,)` (with
    `use_bias`), `context` `C` `(units, heads)` (for one head, `u_w` is
    `C[:, 0]`).

    Args:
        units: Positive integer, size of the hidden layer `u_t`
            (`d_a` in Lin et al.).
        heads: Positive integer (default `1`), number of attention heads
            (`r` in Lin et al.).
        penalty: Non-negative float (default `0.0`), coefficient of the
            `||A A^T - I||_F^2` penalty.
        use_bias: Boolean (default `True`), use the bias `b`.
        kernel_initializer: Initializer of `W` and `C`
            (default `"glorot_uniform"`).
        kernel_regularizer: Regularizer of `W` and `C` (default `None`).
        kernel_constraint: Constraint of `W` and `C` (default `None`).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`, `True` at valid steps; set
            automatically from the Keras mask of `inputs`.

    Returns:
        `(pooled, weights)`: `pooled` `(batch, heads * features)` (the heads'
        weighted sums, concatenated head by head); `weights`
        `(batch, time)` for one head, `(batch, heads, time)` for several.

    Example:

    >>> import keras, numpy as np, toolkit
    >>> tokens = keras.Input(shape=(None,), dtype="int32")
    >>> x = keras.layers.Embedding(100, 6, mask_zero=True)(tokens)
    >>> pooled, weights = toolkit.attention.AttentionPooling(8, heads=2)(x)
    >>> model = keras.Model(tokens, [pooled, weights])
    >>> pooled, weights = model(np.array([[5, 3, 9, 0], [7, 0, 0, 0]]))
    >>> tuple(pooled.shape), tuple(weights.shape)
    ((2, 12), (2, 2, 4))
    >>> float(keras.ops.convert_to_numpy(weights)[1, :, 1:].sum())  # padding
    0.0
    """

    _config_names = (
        "units",
        "heads",
        "penalty",
        "use_bias",
        "kernel_initializer",
        "kernel_regularizer",
        "kernel_constraint",
    )

    def __init__(
        self,
        units,
        heads=1,
        penalty=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.heads = check_positive_int("heads", heads)
        self.penalty = _check_non_negative_float("penalty", penalty)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = resolve_argument("kernel_initializer", kernel_initializer)
        self.kernel_regularizer = resolve_argument("kernel_regularizer", kernel_regularizer)
        self.kernel_constraint = resolve_argument("kernel_constraint", kernel_constraint)

    def build(self, input_shape):
        _rank_of(input_shape, "inputs", (3,))
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                "AttentionPooling needs the last dimension of `inputs` to be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        kernel_arguments = dict(
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.kernel = self.add_weight(
            name="kernel", shape=(features, self.units), **kernel_arguments
        )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.context = self.add_weight(
            name="context", shape=(self.units, self.heads), **kernel_arguments
        )

    def call(self, inputs, mask=None):
        inputs = ops.cast(inputs, self.compute_dtype)
        dtype = inputs.dtype
        hidden = ops.matmul(inputs, ops.cast(self.kernel, dtype))
        if self.use_bias:
            hidden = hidden + ops.cast(self.bias, dtype)
        scores = ops.matmul(ops.tanh(hidden), ops.cast(self.context, dtype))
        weights = masked_softmax(ops.swapaxes(scores, 1, 2), mask)  # (batch, heads, time)
        pooled = ops.reshape(ops.matmul(weights, inputs), (-1, self.heads * inputs.shape[-1]))
        if self.penalty > 0.0:
            self.add_loss(self.penalty * _redundancy_penalty(weights))
        if self.heads == 1:
            weights = ops.squeeze(weights, axis=1)
        return pooled, weights

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        batch, time, features = tuple(input_shape)
        pooled = (batch, None if features is None else self.heads * features)
        weights = (batch, time) if self.heads == 1 else (batch, self.heads, time)
        return pooled, weights

    def get_config(self):
        config = super().get_config()
        for name in self._config_names:
            config[name] = serialize_argument(name, getattr(self, name))
        return config
