"""Streaming: tag audio chunk by chunk with a unidirectional `FrameTagger`.

A chunk is any whole number of hops (`frame_step` samples). The state
carries the last `history = ceil(frame_length / frame_step) - 1` hops of
audio, so the window `[history hops | chunk]` holds exactly `chunk / hop`
complete frames, frame `t` of the stream covering the same samples
`[t * hop, t * hop + frame_length)` as frame `t` of the whole utterance;
the first `history` frames of a stream start before its first sample and
are flagged invalid (`valid`), and the recurrent layers skip them (a masked
step keeps the state). The state also carries every recurrent layer's
states, flattened into one `(batch, units...)` tensor.

Hence the valid frames of a stream are the frames the offline model gives
the whole utterance, to float rounding. Only front-ends without look-ahead
stream (`FrameTagger.streaming_blockers`).
"""

import keras
import numpy as np
from keras import ops


def frame_timing(sample_rate, frame_length, frame_step, stride=1):
    """`(seconds_per_output_frame, offset_seconds)` of a tagger's output frames.

    An output frame covers `stride` hops, centred on its first input frame's
    window centre: it starts half a hop before that centre. Output frame `t`
    stands for `[offset + t * step, offset + (t + 1) * step)` seconds.

    Args:
        sample_rate: Samples per second.
        frame_length: Samples per window.
        frame_step: Samples between two windows' starts.
        stride: Input frames per output frame (default `1`).

    Returns:
        A pair of floats.
    """
    step = frame_step / sample_rate
    centre = frame_length / 2 / sample_rate
    return step * stride, centre - step / 2


class StreamingTagger:
    """The streaming form of a framewise, unidirectional `FrameTagger`.

    It shares the tagger's weights (the front-end, CMVN and output layers
    themselves; copies of the recurrent layers that also return their
    states). `initial_state(batch)` gives the state before the first chunk,
    `step(chunk, state)` the next chunk's outputs and state.

    Args:
        tagger: A `toolkit.models.FrameTagger` whose `streaming_blockers()`
            is empty: framewise, unidirectional, waveform input, no deltas,
            no per-utterance CMVN, no frame stacking, no attention.

    Attributes:
        frame_step: Samples per hop; a chunk holds a whole number of hops.
        history: Hops of audio the state carries.
        recurrent: The recurrent layers (copies that return their states).

    Example:

    >>> import numpy as np, toolkit
    >>> tagger = toolkit.models.FrameTagger(
    ...     num_labels=3, mel_bins=8, deltas=0, cmvn="none", spec_augment=False,
    ...     units=4, num_layers=1, bidirectional=False)
    >>> streaming = toolkit.models.StreamingTagger(tagger)
    >>> state = streaming.initial_state(1)
    >>> outputs, state = streaming.step(np.zeros((1, 4 * 160), "float32"), state)
    >>> tuple(outputs["probabilities"].shape), streaming.history
    ((1, 4, 3), 2)
    """

    def __init__(self, tagger, config=None):
        # `config` is ignored: the recipe's earlier form took the tagger's config.
        blockers = tagger.streaming_blockers() if hasattr(tagger, "streaming_blockers") else None
        if blockers is None:
            raise ValueError(
                "Argument `tagger` expected a `toolkit.models.FrameTagger`. "
                f"Received: {type(tagger).__name__}"
            )
        if blockers:
            raise ValueError("The tagger cannot stream; it has: " + "; ".join(blockers))
        self.frame_step = tagger.frame_step
        self.history = -(-tagger.frame_length // tagger.frame_step) - 1
        self.features = tagger.get_layer("features")
        names = {layer.name for layer in tagger.layers}
        self.cmvn = tagger.get_layer("cmvn") if "cmvn" in names else None
        self.recurrent = [
            _with_states(tagger.get_layer(f"{tagger.cell}_{index}"))
            for index in range(tagger.num_layers)
        ]
        self.output = tagger.get_layer("probabilities")
        self.state_sizes = [_state_sizes(layer) for layer in self.recurrent]

    @property
    def history_samples(self):
        """Samples of audio the state carries."""
        return self.history * self.frame_step

    def initial_state(self, batch_size):
        """The state before the first chunk: a dict of `samples`, `skip`, `recurrent`."""
        total = sum(sum(sizes) for sizes in self.state_sizes)
        return {
            "samples": ops.zeros((batch_size, self.history_samples), "float32"),
            "skip": ops.full((batch_size,), self.history, dtype="int32"),
            "recurrent": ops.zeros((batch_size, total), "float32"),
        }

    def step(self, chunk, state):
        """Tags one chunk.

        Args:
            chunk: float32 `(batch, k * frame_step)` samples.
            state: The dict from `initial_state` or the previous `step`.

        Returns:
            `(outputs, new_state)`: `outputs` has `probabilities`
            `(batch, k, labels)`, `labels` int32 `(batch, k)` and `valid`
            bool `(batch, k)` (false for the stream's first `history`
            frames).
        """
        chunk = ops.cast(chunk, "float32")
        if chunk.shape[1] is not None and chunk.shape[1] % self.frame_step:
            raise ValueError(
                f"Argument `chunk` expected a whole number of hops ({self.frame_step} samples). "
                f"Received: chunk.shape={tuple(chunk.shape)}"
            )
        window = ops.concatenate([state["samples"], chunk], axis=1)
        x = self.features(window)
        frames = ops.shape(x)[1]
        valid = ops.arange(frames, dtype="int32")[None, :] >= state["skip"][:, None]
        if self.cmvn is not None:
            x = self.cmvn(x, mask=valid)
        states = self._unflatten(state["recurrent"])
        new_states = []
        for layer, layer_states in zip(self.recurrent, states):
            x, *layer_states = layer(x, initial_state=layer_states, mask=valid)
            new_states += layer_states
        probabilities = self.output(x)
        outputs = {
            "probabilities": probabilities,
            "labels": ops.cast(ops.argmax(probabilities, axis=-1), "int32"),
            "valid": valid,
        }
        new_state = {
            "samples": window[:, ops.shape(window)[1] - self.history_samples :],
            "skip": ops.maximum(state["skip"] - frames, 0),
            "recurrent": ops.concatenate([ops.cast(s, "float32") for s in new_states], axis=-1),
        }
        return outputs, new_state

    def _unflatten(self, flat):
        states, start = [], 0
        for sizes in self.state_sizes:
            layer_states = []
            for size in sizes:
                layer_states.append(flat[:, start : start + size])
                start += size
            states.append(layer_states)
        return states


def _with_states(layer):
    """A copy of a recurrent layer (same weights) that also returns its states."""
    copy = layer.__class__.from_config({**layer.get_config(), "return_state": True})
    weights = layer.get_weights()
    copy.build((None, None, weights[0].shape[0]))  # the kernel is (input features, ...)
    copy.set_weights(weights)
    return copy


def _state_sizes(layer):
    sizes = layer.cell.state_size
    return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]


def stream(streaming, waveform, chunk_hops=10):
    """Runs `streaming` over whole waveforms chunk by chunk (for checks and demos).

    Args:
        streaming: A `StreamingTagger`.
        waveform: float32 `(batch, samples)`; it is padded with zeros to a
            whole number of chunks.
        chunk_hops: Hops per chunk.

    Returns:
        The valid frames' probabilities `(batch, frames, labels)`, where
        `frames` counts every valid frame of the padded stream.
    """
    waveform = np.asarray(waveform, dtype="float32")
    size = chunk_hops * streaming.frame_step
    total = -(-waveform.shape[1] // size) * size
    waveform = np.pad(waveform, [(0, 0), (0, total - waveform.shape[1])])
    state = streaming.initial_state(waveform.shape[0])
    pieces = []
    for start in range(0, total, size):
        outputs, state = streaming.step(
            keras.ops.convert_to_tensor(waveform[:, start : start + size]), state
        )
        valid = np.asarray(ops.convert_to_numpy(outputs["valid"]))[0]
        pieces.append(np.asarray(ops.convert_to_numpy(outputs["probabilities"]))[:, valid])
    return np.concatenate(pieces, axis=1)
