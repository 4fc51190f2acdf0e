"""Per-step gate values of the toolkit recurrent layers inside a model.

`trace_gates` runs a model once, in inference mode, records what every
toolkit recurrent layer received (its sequences, initial state and mask) and
replays each layer with `Recurrent.trace` to read its gates step by step. The
result is one `GateTrace` per layer: NumPy arrays in input time order, with
the padded (masked) steps set to NaN so that they drop out of `np.nan*`
statistics and show blank in plots.
"""

import dataclasses

import keras
import numpy as np

from toolkit.layers.recurrent import Recurrent


@dataclasses.dataclass(repr=False, eq=False)
class GateTrace:
    """The gate values of one recurrent layer over one batch.

    Built by `trace_gates`; can also be built by hand from the output of
    `Recurrent.trace`. Construction converts everything to NumPy and sets the
    values at masked steps to NaN.

    Attributes:
        layer_name: String, the path of the layer in the model
            (`"bidirectional/forward_lstm"`).
        gates: Dict from each gate name to a float NumPy array of shape
            `(batch, time, size)`, in input time order (also for layers with
            `go_backwards=True`). Masked steps hold NaN.
        mask: Boolean NumPy array of shape `(batch, time)`, `True` at real
            steps. All `True` when the layer received no mask.
        gate_names: Tuple of the gate names, in the cell's order
            (`cell.gate_names`).

    Example:

    >>> import numpy as np
    >>> trace = GateTrace(
    ...     "rnn",
    ...     {"hidden_state": np.ones((1, 3, 2))},
    ...     mask=np.array([[True, True, False]]),
    ... )
    >>> trace.sequence(0)["hidden_state"].shape
    (2, 2)
    >>> bool(np.isnan(trace.gates["hidden_state"][0, 2]).all())
    True
    """

    layer_name: str
    gates: dict
    mask: np.ndarray = None
    gate_names: tuple = None

    def __post_init__(self):
        gates = {}
        for name, value in self.gates.items():
            value = np.asarray(keras.ops.convert_to_numpy(value))
            dtype = np.float64 if value.dtype == np.float64 else np.float32
            value = np.array(value, dtype=dtype)
            if value.ndim != 3:
                raise ValueError(
                    f"Argument `gates` expected arrays of shape (batch, time, size). "
                    f"Received: gates[{name!r}].shape={value.shape}"
                )
            gates[name] = value
        if not gates:
            raise ValueError("Argument `gates` expected at least one gate. Received: gates={}")
        leading = next(iter(gates.values())).shape[:2]
        for name, value in gates.items():
            if value.shape[:2] != leading:
                raise ValueError(
                    "Argument `gates` expected arrays with the same (batch, time). "
                    f"Received: gates[{name!r}].shape={value.shape}, expected "
                    f"{leading} as leading dimensions"
                )
        if self.mask is None:
            mask = np.ones(leading, dtype=bool)
        else:
            mask = np.asarray(keras.ops.convert_to_numpy(self.mask)).astype(bool)
            if mask.shape != leading:
                raise ValueError(
                    f"Argument `mask` expected shape (batch, time) = {leading}. "
                    f"Received: mask.shape={mask.shape}"
                )
        for value in gates.values():
            value[~mask] = np.nan
        gate_names = tuple(self.gate_names) if self.gate_names is not None else tuple(gates)
        if set(gate_names) != set(gates):
            raise ValueError(
                "Argument `gate_names` expected the names of the `gates` dict. "
                f"Received: gate_names={gate_names}, gates={tuple(gates)}"
            )
        self.gates = gates
        self.mask = mask
        self.gate_names = gate_names

    @property
    def batch_size(self):
        """Number of sequences in the batch."""
        return self.mask.shape[0]

    @property
    def steps(self):
        """Number of time steps, padding included."""
        return self.mask.shape[1]

    @property
    def lengths(self):
        """Integer array `(batch,)`: the number of unmasked steps per sequence."""
        return self.mask.sum(axis=1)

    def sequence(self, index):
        """The unmasked steps of one sequence of the batch.

        Args:
            index: Integer, position of the sequence in the batch (negative
                values count from the end).

        Returns:
            A dict from each gate name to a NumPy array of shape
            `(valid_time, size)`: the values at the unmasked steps of that
            sequence, in input time order.
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"Argument `index` expected an integer. Received: index={index!r}")
        if not -self.batch_size <= index < self.batch_size:
            raise ValueError(
                f"Argument `index` expected a position in a batch of "
                f"{self.batch_size} sequence(s). Received: index={index}"
            )
        valid = self.mask[index]
        return {name: self.gates[name][index][valid] for name in self.gate_names}

    def __repr__(self):
        shapes = ", ".join(f"{name}={self.gates[name].shape}" for name in self.gate_names)
        return f"GateTrace(layer_name={self.layer_name!r}, {shapes})"


def trace_gates(model_or_layer, inputs, **call_kwargs):
    """Records the per-step gates of every toolkit recurrent layer of a model.

    The model runs once, eagerly and in inference mode
    (`model_or_layer(inputs, training=False)`). Each toolkit recurrent layer
    (`toolkit.layers.Recurrent`: `LSTM`, `GRU`, `SimpleRNN`, ...) records the
    exact sequences, initial state and mask it received, then is replayed
    with `Recurrent.trace` to read its gates. Layers are found by walking
    `model.layers` recursively (nested models included) and the
    `forward_layer` / `backward_layer` of `keras.layers.Bidirectional`.

    Dropout and zoneout are in inference mode. The states of stateful layers
    are read, and left as they were before the call. Under a mixed precision
    policy the gates are computed in the layer's compute dtype, as in the
    forward pass, and returned as float32.

    Args:
        model_or_layer: A Keras model (functional, `Sequential` or
            subclassed) or layer containing toolkit recurrent layers, or a
            single toolkit recurrent layer.
        inputs: A batch of inputs, in any form the model accepts (NumPy
            array, tensor, dict or list of them).
        **call_kwargs: Extra keyword arguments of the call, e.g. `mask` or
            `initial_state` when tracing a single layer. `training` is always
            `False`.

    Returns:
        A dict from layer path to `GateTrace`, in the order the layers are
        found. A path joins the names of the enclosing layers below
        `model_or_layer` with `/` (`"encoder/lstm"`,
        `"bidirectional/forward_gru"`); a single layer is keyed by its name.
        A layer called several times in one forward pass (a shared layer)
        gives one entry per call, `"<path>/call_<i>"`; a path already taken
        (two layers with one name) gets a suffix, `"<path>#2"`. Each trace holds
        arrays of shape `(batch, time, size)`, in input time order, NaN at
        masked steps.

    Raises:
        ValueError: if `model_or_layer` is not a Keras layer or model,
            contains no toolkit recurrent layer, or contains one that the
            forward pass did not call.

    Example:

    >>> import numpy as np, keras, toolkit
    >>> model = keras.Sequential(
    ...     [keras.Input((5, 3)), toolkit.layers.LSTM(4, name="encoder")]
    ... )
    >>> traces = toolkit.inspect.trace_gates(model, np.ones((2, 5, 3), "float32"))
    >>> list(traces)
    ['encoder']
    >>> traces["encoder"].gates["forget_gate"].shape
    (2, 5, 4)
    """
    if not isinstance(model_or_layer, keras.layers.Layer):
        raise ValueError(
            "Argument `model_or_layer` expected a Keras model or layer. "
            f"Received: model_or_layer={model_or_layer!r}"
        )
    if "training" in call_kwargs:
        raise ValueError(
            "`trace_gates` always runs in inference mode; do not pass `training`. "
            f"Received: training={call_kwargs['training']!r}"
        )

    # The stateful states the forward pass starts from, before anything runs;
    # they are put back at the end. Layers not built yet (or created while
    # building) start from zeros.
    layers = {id(layer): layer for _, layer in _find_recurrent_layers(model_or_layer)}
    initial_states = {
        key: [keras.ops.convert_to_numpy(state) for state in layer.states]
        for key, layer in layers.items()
        if layer.stateful and layer.built and layer.states
    }
    try:
        if not isinstance(model_or_layer, Recurrent) and not model_or_layer.built:
            # Subclassed models may create their layers in `build`.
            model_or_layer(inputs, training=False, **call_kwargs)
        found = _find_recurrent_layers(model_or_layer)
        layers.update((id(layer), layer) for _, layer in found)
        if not found:
            raise ValueError(
                "Argument `model_or_layer` contains no toolkit recurrent layer "
                "(`toolkit.layers.Recurrent`, `LSTM`, `GRU`, `SimpleRNN`), so there "
                f"are no gates to trace. Received: model_or_layer={model_or_layer.name!r} "
                f"({type(model_or_layer).__name__})"
            )
        calls = _record_calls(model_or_layer, inputs, call_kwargs, found)
        return _replay_calls(found, calls, initial_states)
    finally:
        for key, layer in layers.items():
            if layer.stateful and layer.built:
                _assign_states(layer, initial_states.get(key))


def _record_calls(model_or_layer, inputs, call_kwargs, found):
    """Runs the forward pass; `{id(layer): [(sequences, initial_state, mask)]}`."""
    sinks = {}
    previous_sinks = {id(layer): layer._trace_sink for _, layer in found}
    try:
        for _, layer in found:
            layer._trace_sink = []
            # Keras may wrap an assigned list (attribute tracking): keep the
            # object the layer actually appends to.
            sinks[id(layer)] = layer._trace_sink
        model_or_layer(inputs, training=False, **call_kwargs)
    finally:
        for _, layer in found:
            layer._trace_sink = previous_sinks[id(layer)]
    return sinks


def _replay_calls(found, calls_by_layer, initial_states):
    """Traces each recorded call of each layer; `{name: GateTrace}`."""
    traces = {}
    for path, layer in found:
        calls = calls_by_layer[id(layer)]
        if not calls:
            raise ValueError(
                f"Argument `model_or_layer` contains the toolkit recurrent layer "
                f"{path!r}, which was not called when running the model on "
                "`inputs`; only layers that take part in the forward pass can be "
                "traced."
            )
        if layer.stateful:
            _assign_states(layer, initial_states.get(id(layer)))
        for index, (sequences, initial_state, mask) in enumerate(calls):
            gates = layer.trace(sequences, initial_state=initial_state, mask=mask)
            if layer.stateful and index < len(calls) - 1:
                # The next call starts from the states this call left.
                layer(sequences, initial_state=initial_state, mask=mask, training=False)
            name = path if len(calls) == 1 else f"{path}/call_{index}"
            name = _unique(name, traces)
            traces[name] = GateTrace(
                layer_name=name,
                gates={gate: gates[gate] for gate in layer.cell.gate_names},
                mask=_mask_array(mask),
                gate_names=tuple(layer.cell.gate_names),
            )
    return traces


def _find_recurrent_layers(root):
    """`[(path, layer)]` for every toolkit recurrent layer under `root`."""
    if isinstance(root, Recurrent):
        return [(root.name, root)]
    found = []
    seen = set()
    used_paths = set()

    def visit(container, prefix):
        if id(container) in seen:
            return
        seen.add(id(container))
        for child in _children(container):
            path = f"{prefix}/{child.name}" if prefix else child.name
            if isinstance(child, Recurrent):
                if id(child) not in seen:
                    seen.add(id(child))
                    path = _unique(path, used_paths)
                    used_paths.add(path)
                    found.append((path, child))
            else:
                visit(child, path)

    visit(root, "")
    return found


def _children(container):
    if isinstance(container, keras.layers.Bidirectional):
        return [container.forward_layer, container.backward_layer]
    children = getattr(container, "layers", None)
    if not isinstance(children, (list, tuple)):
        return []
    return [child for child in children if isinstance(child, keras.layers.Layer)]


def _unique(name, taken):
    if name not in taken:
        return name
    count = 2
    while f"{name}#{count}" in taken:
        count += 1
    return f"{name}#{count}"


def _mask_array(mask):
    if mask is None:
        return None
    return np.asarray(keras.ops.convert_to_numpy(mask)).astype(bool)


def _assign_states(layer, values):
    if not layer.states:
        return
    if values is None:
        layer.reset_state()
        return
    for variable, value in zip(layer.states, values):
        variable.assign(value)
