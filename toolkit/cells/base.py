"""The base class shared by every toolkit cell.

A cell is one time step of a recurrent network and nothing else: it knows
neither time, nor masks, nor padding (those belong to `toolkit.layers`). Each
cell is split into two halves so that a sequence layer can run it fast:

* `project_inputs(inputs)`: the part of the step that depends only on the
  input. It is a single matmul that works on one step `(batch, features)` or
  on a whole sequence `(batch, time, features)` at once.
* `recurrent_step(projected_inputs, states, ...)`: the part that depends on
  the previous state. It consumes one time step of the projection.

`call(inputs, states, training)` chains the two for one step, which is Keras'
public cell protocol, so `keras.layers.RNN(cell)` accepts every toolkit cell.
"""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.arguments import check_rate
from toolkit.arguments import resolve_argument
from toolkit.arguments import serialize_argument


def layer_normalize(values, scale, offset=None, epsilon=1e-5):
    """Layer normalization over the last axis (Ba et al., 2016).

    Statistics are computed in float32 so that the normalization stays
    stable under mixed precision, then cast back to the input dtype.
    """
    dtype = values.dtype
    values32 = ops.cast(values, "float32")
    mean = ops.mean(values32, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(values32 - mean), axis=-1, keepdims=True)
    normalized = ops.cast((values32 - mean) * ops.rsqrt(variance + epsilon), dtype)
    normalized = normalized * ops.cast(scale, dtype)
    if offset is not None:
        normalized = normalized + ops.cast(offset, dtype)
    return normalized


@keras.saving.register_keras_serializable(package="toolkit")
class RecurrentCell(keras.layers.Layer):
    """Base class of the toolkit's recurrent cells.

    Subclasses declare `gate_names` (what `recurrent_step(...,
    return_gates=True)` reports), `state_size`, `output_size`, and implement
    `build`, `project_inputs` and `recurrent_step`. They list the constructor
    arguments they add in `_extra_config` so that `get_config` stays a single
    mechanism instead of a copy per cell.

    Used step by step through `keras.layers.RNN`, a cell in training mode
    draws new dropout and zoneout masks at every step, and on the JAX backend
    it cannot draw them at all (a `NotImplementedError` says so); the toolkit
    sequence layers (`toolkit.layers.Recurrent(cell)`) draw one dropout mask
    per sequence and work on every backend.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        use_bias: Boolean (default `True`), whether the cell uses a bias.
        kernel_initializer: Initializer for the input kernel
            (default `"glorot_uniform"`).
        recurrent_initializer: Initializer for the recurrent kernel
            (default `"orthogonal"`).
        bias_initializer: Initializer for the bias (default `"zeros"`).
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Regularizers for those weights (default `None`).
        kernel_constraint, recurrent_constraint, bias_constraint:
            Constraints for those weights (default `None`).
        dropout: Float in [0, 1) (default `0.0`). Fraction of the input units
            to drop. Sequence layers draw one mask per sequence
            (Gal & Ghahramani, 2016).
        recurrent_dropout: Float in [0, 1) (default `0.0`). Fraction of the
            recurrent state units to drop, one mask per sequence.
        zoneout: Float in [0, 1) (default `0.0`). Zoneout rate of the hidden
            state (Krueger et al., 2016): during training each unit keeps its
            previous value with this probability, at inference the update is
            the expectation `rate * previous + (1 - rate) * new`.
        seed: Integer seed for dropout and zoneout (default `None`).
    """

    gate_names = ()
    _extra_config = ()

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        zoneout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = resolve_argument("kernel_initializer", kernel_initializer)
        self.recurrent_initializer = resolve_argument(
            "recurrent_initializer", recurrent_initializer
        )
        self.bias_initializer = resolve_argument("bias_initializer", bias_initializer)
        self.kernel_regularizer = resolve_argument("kernel_regularizer", kernel_regularizer)
        self.recurrent_regularizer = resolve_argument(
            "recurrent_regularizer", recurrent_regularizer
        )
        self.bias_regularizer = resolve_argument("bias_regularizer", bias_regularizer)
        self.kernel_constraint = resolve_argument("kernel_constraint", kernel_constraint)
        self.recurrent_constraint = resolve_argument("recurrent_constraint", recurrent_constraint)
        self.bias_constraint = resolve_argument("bias_constraint", bias_constraint)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.zoneout = check_rate("zoneout", zoneout)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(
                f"Argument `seed` expected an integer or None. Received: seed={seed!r}"
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    # === Cell protocol ===

    @property
    def state_size(self):
        raise NotImplementedError

    @property
    def output_size(self):
        raise NotImplementedError

    @property
    def zoneout_rates(self):
        """Zoneout rate of each state, in `state_size` order."""
        return [self.zoneout] * len(self.state_size)

    @property
    def _uses_randomness(self):
        return bool(self.dropout or self.recurrent_dropout or any(self.zoneout_rates))

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def call(self, inputs, states, training=False):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        batch_size = ops.shape(inputs)[0]
        recurrent_mask = None
        zoneout_masks = None
        if training and self._uses_randomness:
            # Called step by step (keras.layers.RNN), the cell cannot know
            # where a sequence starts, so it draws fresh masks at every step.
            # `toolkit.layers` draw one mask per sequence instead.
            if keras.backend.backend() == "jax":
                # Drawing from a SeedGenerator inside keras.layers.RNN's
                # lax.scan leaks a tracer: say so instead of failing deep in JAX.
                raise NotImplementedError(
                    f"{type(self).__name__} with dropout, recurrent_dropout or "
                    "zoneout cannot train step by step inside keras.layers.RNN on "
                    "the JAX backend. Wrap it in toolkit.layers.Recurrent(cell) "
                    "instead, which draws its masks once per sequence. Received: "
                    f"dropout={self.dropout}, recurrent_dropout="
                    f"{self.recurrent_dropout}, zoneout={self.zoneout_rates}"
                )
            input_mask = self.input_dropout_mask(inputs)
            if input_mask is not None:
                inputs = inputs * input_mask
            recurrent_mask = self.recurrent_dropout_mask(states[0])
            zoneout_masks = self.zoneout_masks((batch_size,))
        output, new_states, _ = self.recurrent_step(
            self.project_inputs(inputs),
            states,
            recurrent_dropout_mask=recurrent_mask,
            zoneout_masks=zoneout_masks,
            training=training,
        )
        return output, new_states

    # === The split used by sequence layers ===

    def project_inputs(self, inputs):
        """Input half of the step: `(..., features)` -> `(..., projection)`.

        Works on one step `(batch, features)` or a whole sequence
        `(batch, time, features)` with a single matmul. By default `inputs @
        kernel + bias`; cells with another form (GRU's `reset_after` bias, the
        LSTM's layer norm) override it.
        """
        projected = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            projected = projected + self.bias
        return projected

    def _build_weights(self, input_shape, width, recurrent_shape, bias_shape=None, **bias):
        """Adds `kernel`, `recurrent_kernel` and (with `use_bias`) `bias`.

        Each takes the cell's initializer, regularizer and constraint of its
        kind. Shapes: `kernel` `(features, width)`; `recurrent_kernel`
        `recurrent_shape` (none if `None`); `bias` `bias_shape` (default
        `(width,)`); `bias` may also take `initializer=` (e.g. a unit forget
        bias). Returns the number of input features.
        """
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"The last dimension of the inputs to a {type(self).__name__} must be "
                f"defined. Received: input_shape={input_shape}"
            )
        self.kernel = self._weight("kernel", (input_dim, width), "kernel")
        if recurrent_shape is not None:
            self.recurrent_kernel = self._weight("recurrent", recurrent_shape, "recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self._weight("bias", bias_shape or (width,), "bias", **bias)
        return input_dim

    def _weight(self, kind, shape, name, initializer=None):
        """A weight with the cell's `<kind>_initializer`, `_regularizer` and `_constraint`."""
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=initializer or getattr(self, f"{kind}_initializer"),
            regularizer=getattr(self, f"{kind}_regularizer"),
            constraint=getattr(self, f"{kind}_constraint"),
        )

    def recurrent_step(
        self,
        projected_inputs,
        states,
        recurrent_dropout_mask=None,
        zoneout_masks=None,
        training=False,
        return_gates=False,
    ):
        """Recurrent half of the step.

        Args:
            projected_inputs: `(batch, projection)`, one step of
                `project_inputs`.
            states: list of `(batch, state_size[i])` tensors.
            recurrent_dropout_mask: `(batch, state_size[0])` scaled dropout
                mask for the recurrent input, or `None`.
            zoneout_masks: list of `(batch, state_size[i])` masks, `1` where a
                unit keeps its previous value; used when `training`.
            training: Boolean, training mode.
            return_gates: Boolean; when `True` the third return value is a
                dict from each of `gate_names` to a `(batch, units)` tensor.

        Returns:
            `(output, new_states, gates)`; `gates` is `None` unless
            `return_gates`.
        """
        raise NotImplementedError

    # === Dropout and zoneout ===

    def _dropout_mask(self, like, rate):
        ones = ops.ones_like(like)
        return keras.random.dropout(ones, rate=rate, seed=self.seed_generator)

    def input_dropout_mask(self, step_inputs):
        """Scaled dropout mask shaped like `step_inputs` `(batch, features)`."""
        if self.dropout == 0.0:
            return None
        return self._dropout_mask(step_inputs, self.dropout)

    def recurrent_dropout_mask(self, state):
        """Scaled dropout mask for the recurrent input `(batch, state)`."""
        if self.recurrent_dropout == 0.0:
            return None
        return self._dropout_mask(state, self.recurrent_dropout)

    def zoneout_masks(self, leading_shape):
        """Keep-previous masks of shape `leading_shape + (state_size[i],)`.

        Returns `None` when no state uses zoneout. A state with rate 0 gets a
        mask of zeros (never keeps its previous value).
        """
        rates = self.zoneout_rates
        if not any(rates):
            return None
        masks = []
        for rate, size in zip(rates, self.state_size):
            shape = tuple(leading_shape) + (size,)
            if rate == 0.0:
                masks.append(ops.zeros(shape, dtype=self.compute_dtype))
            else:
                draw = keras.random.uniform(shape, seed=self.seed_generator)
                masks.append(ops.cast(draw < rate, self.compute_dtype))
        return masks

    def apply_zoneout(self, previous_states, new_states, zoneout_masks, training):
        """Mixes previous and new states according to the zoneout rates."""
        rates = self.zoneout_rates
        if not any(rates):
            return list(new_states)
        mixed = []
        for index, (rate, previous, new) in enumerate(zip(rates, previous_states, new_states)):
            if rate == 0.0:
                mixed.append(new)
            elif training and zoneout_masks is not None:
                keep = ops.cast(zoneout_masks[index], new.dtype)
                mixed.append(keep * previous + (1.0 - keep) * new)
            else:
                mixed.append(rate * previous + (1.0 - rate) * new)
        return mixed

    # === Config ===

    _base_config = (
        "units",
        "use_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
        "zoneout",
        "seed",
    )

    def get_config(self):
        config = super().get_config()
        for name in self._base_config + tuple(self._extra_config):
            config[name] = serialize_argument(name, getattr(self, name))
        return config
