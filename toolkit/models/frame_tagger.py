"""The frame tagger task: waveforms -> a label per frame (or a CTC label sequence)."""

import json
import pathlib
import warnings

import keras
import numpy as np

from toolkit import attention as attention_registry
from toolkit import features as feature_layers
from toolkit import layers as recurrent_layers
from toolkit.arguments import check_bool
from toolkit.arguments import check_choice
from toolkit.arguments import check_positive_int
from toolkit.arguments import check_rate
from toolkit.losses import BlankPadding
from toolkit.losses import MaskedCTC
from toolkit.models import presets
from toolkit.models.streaming import frame_timing
from toolkit.models.task import FunctionalAttributes

MODES = ("framewise", "ctc")
FEATURES = ("logmel", "mfcc")
CMVN_MODES = ("utterance", "global", "none")
# `from_preset` arguments that keep the saved weights' shapes.
SAME_WEIGHTS = {"name", "trainable", "label_names", "dropout", "seed"}


def _check_non_negative_int(argument_name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"Argument `{argument_name}` expected a non-negative integer. "
            f"Received: {argument_name}={value!r}"
        )
    return value


def _check_label_names(label_names, num_labels):
    if label_names is None:
        return None
    if isinstance(label_names, str) or not all(isinstance(n, str) for n in label_names):
        raise ValueError(
            "Argument `label_names` expected a list of strings. "
            f"Received: label_names={label_names!r}"
        )
    label_names = list(label_names)
    if len(label_names) != num_labels:
        raise ValueError(
            f"Argument `label_names` expected {num_labels} names (`num_labels`). "
            f"Received: {len(label_names)} names"
        )
    return label_names


def _check_attention(attention):
    choices = ("none", *attention_registry.available(), "luong")
    # `location` needs the previous alignments of a decoder: no self-attention.
    return check_choice("attention", attention, [c for c in choices if c != "location"])


@keras.saving.register_keras_serializable(package="toolkit")
class FrameTagger(FunctionalAttributes, keras.Model):
    """Recurrent frame tagger: waveforms -> label probabilities per frame, or CTC logits.

    One functional `keras.Model`, audio front-end included, so the saved
    model and its SavedModel (`toolkit.export.export_frame_tagger`) take
    audio. Graves & Schmidhuber's (2005) framewise BLSTM at the defaults:

    ```
    waveform (batch, samples), lengths (batch,) valid samples
      -> LogMelSpectrogram | MFCC (frame_length / frame_step windows)
      -> [Deltas] -> [CMVN] -> [SpecAugment, training only] -> [FrameStacking]
      -> num_layers x [Bidirectional] <cell> (the frame mask given explicitly)
         each followed by Dropout
      -> [self-attention over the frames, its context joined to each frame]
      -> framewise: Dense(softmax)     -> probabilities (batch, frames, num_labels)
         ctc:       Dense, BlankPadding -> logits (batch, frames, num_labels + 1)
    ```

    The valid frames of each utterance come from `lengths`
    (`toolkit.features.FrameLengths`: only whole windows), and every layer
    gets the frame mask (`toolkit.features.FrameMask`), so padding never
    changes a valid frame's output. In `"ctc"` mode class 0 is the blank and
    label `i` is class `i + 1`; padded frames are made certain blanks
    (`toolkit.losses.BlankPadding`), so `toolkit.losses.MaskedCTC` over the
    padded length equals the loss over each utterance's own frames. With
    `feature_channels`, the model reads precomputed features
    `(batch, frames, feature_channels)` (input `features`) and `lengths`
    counts frames.

    A new model is compiled with Adam (learning rate 1e-3, global gradient
    norm clipped to 1.0) and, framewise, sparse categorical cross-entropy
    with weighted `accuracy`: pass the valid-frame mask as `sample_weight`
    so padded frames add nothing (`output_lengths` gives the valid frames);
    in CTC mode `MaskedCTC` on label sequences `1..num_labels` padded with -1.
    `fit`, `evaluate` and `predict` are Keras' own on `[waveform, lengths]`
    (or a dict keyed by the input names). `save` / `keras.models.load_model`
    need only `import toolkit`; `save_to_preset` / `from_preset` write and
    read a local folder in keras-hub's layout.

    Args:
        num_labels: Positive integer, the number of frame labels (without
            the CTC blank).
        label_names: Optional list of `num_labels` strings (default `None`:
            `tag` answers label indices).
        mode: `"framewise"` (default; a softmax per frame) or `"ctc"`.
        features: `"logmel"` (default) or `"mfcc"`.
        sample_rate: Positive integer (default `16000`), in Hz.
        frame_length: Positive integer (default `400`), samples per window.
        frame_step: Positive integer (default `160`), at most `frame_length`:
            samples between two windows' starts.
        mel_bins: Positive integer (default `40`).
        mfcc_coefficients: Positive integer (default `13`), at most
            `mel_bins` (with `features="mfcc"`).
        deltas: `0`, `1` (deltas) or `2` (default; deltas and delta-deltas).
        cmvn: `"utterance"` (default; each utterance's own statistics),
            `"global"` (statistics set by `adapt_cmvn`) or `"none"`.
        spec_augment: Boolean (default `True`), SpecAugment while training.
        frequency_masks: Non-negative integer (default `2`).
        frequency_mask_width: Non-negative integer (default `6`).
        time_masks: Non-negative integer (default `2`).
        time_mask_width: Non-negative integer (default `10`).
        seed: Optional integer (default `None`), SpecAugment's seed.
        stack_left: Non-negative integer (default `0`), frames stacked before
            each frame.
        stack_right: Non-negative integer (default `0`), frames after it.
        stride: Positive integer (default `1`): keep every `stride`-th frame.
        feature_channels: Optional positive integer (default `None`: the
            model reads waveforms), the channels of precomputed features.
        cell: String (default `"lstm"`), any of `toolkit.layers.available()`.
        units: Positive integer (default `128`), per layer and direction.
        num_layers: Positive integer (default `2`), stacked recurrent layers.
        bidirectional: Boolean (default `True`).
        projection: Optional positive integer (default `None`), the LSTMP
            projection size (`cell="lstm"` only).
        attention: `"none"` (default) or a `toolkit.attention.available()`
            name but `"location"`: a self-attention head over the frames
            (`toolkit.attention.get(attention, attention_units)`).
        attention_units: Positive integer (default `64`).
        dropout: Float in `[0, 1)` (default `0.2`), after each recurrent layer.
        **kwargs: Model arguments (`name`, default `"frame_tagger"`; `trainable`).

    Call arguments:
        inputs: `[waveform, lengths]`: float32 `(batch, samples)` and int32
            `(batch,)` valid samples (or `[features, lengths]` in frames).
        training: Boolean, training mode (dropout, SpecAugment).

    Returns:
        float32 `(batch, frames, num_labels)` probabilities (framewise) or
        `(batch, frames, num_labels + 1)` logits (ctc).

    Example:

    >>> import numpy as np, toolkit
    >>> tagger = toolkit.models.FrameTagger(
    ...     num_labels=2, label_names=["low", "high"], mel_bins=8, deltas=0,
    ...     spec_augment=False, units=4, num_layers=1, dropout=0.0)
    >>> waveforms = np.random.default_rng(0).normal(size=(2, 1600)).astype("float32")
    >>> lengths = np.array([1600, 800], dtype="int32")
    >>> tagger.predict([waveforms, lengths], verbose=0).shape  # 8 frames of 1600 samples
    (2, 8, 2)
    >>> [len(result["frame_labels"]) for result in tagger.tag(waveforms, lengths)]
    [8, 3]
    """

    head_arguments = ("num_labels", "label_names", "mode")

    def __init__(
        self,
        num_labels,
        label_names=None,
        mode="framewise",
        features="logmel",
        sample_rate=16000,
        frame_length=400,
        frame_step=160,
        mel_bins=40,
        mfcc_coefficients=13,
        deltas=2,
        cmvn="utterance",
        spec_augment=True,
        frequency_masks=2,
        frequency_mask_width=6,
        time_masks=2,
        time_mask_width=10,
        seed=None,
        stack_left=0,
        stack_right=0,
        stride=1,
        feature_channels=None,
        cell="lstm",
        units=128,
        num_layers=2,
        bidirectional=True,
        projection=None,
        attention="none",
        attention_units=64,
        dropout=0.2,
        **kwargs,
    ):
        num_labels = check_positive_int("num_labels", num_labels)
        label_names = _check_label_names(label_names, num_labels)
        mode = check_choice("mode", mode, MODES)
        features = check_choice("features", features, FEATURES)
        for name, value in (
            ("sample_rate", sample_rate),
            ("frame_length", frame_length),
            ("frame_step", frame_step),
            ("mel_bins", mel_bins),
            ("mfcc_coefficients", mfcc_coefficients),
            ("stride", stride),
            ("units", units),
            ("num_layers", num_layers),
            ("attention_units", attention_units),
        ):
            check_positive_int(name, value)
        for name, value in (
            ("frequency_masks", frequency_masks),
            ("frequency_mask_width", frequency_mask_width),
            ("time_masks", time_masks),
            ("time_mask_width", time_mask_width),
            ("stack_left", stack_left),
            ("stack_right", stack_right),
        ):
            _check_non_negative_int(name, value)
        if frame_step > frame_length:
            raise ValueError(
                f"Argument `frame_step` expected at most `frame_length` ({frame_length}). "
                f"Received: frame_step={frame_step!r}"
            )
        if features == "mfcc" and mfcc_coefficients > mel_bins:
            raise ValueError(
                f"Argument `mfcc_coefficients` expected at most `mel_bins` ({mel_bins}). "
                f"Received: mfcc_coefficients={mfcc_coefficients!r}"
            )
        if deltas not in (0, 1, 2) or isinstance(deltas, bool):
            raise ValueError(f"Argument `deltas` expected 0, 1 or 2. Received: deltas={deltas!r}")
        cmvn = check_choice("cmvn", cmvn, CMVN_MODES)
        spec_augment = check_bool("spec_augment", spec_augment)
        bidirectional = check_bool("bidirectional", bidirectional)
        feature_channels = check_positive_int("feature_channels", feature_channels, True)
        cell = check_choice("cell", cell, recurrent_layers.available())
        projection = check_positive_int("projection", projection, allow_none=True)
        if projection is not None and cell != "lstm":
            raise ValueError(
                "Argument `projection` expected `cell='lstm'` (an LSTMP projection). "
                f"Received: cell={cell!r}, projection={projection!r}"
            )
        attention = _check_attention(attention)
        dropout = check_rate("dropout", dropout)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(
                f"Argument `seed` expected an integer or None. Received: seed={seed!r}"
            )
        kwargs.setdefault("name", "frame_tagger")

        # === Functional Model ===
        # The layers' names and order are those of the speech recipe's earlier
        # functional model: its run folders load into this class by weights.
        lengths = keras.Input((), dtype="int32", name="lengths")
        if feature_channels is None:
            signal = keras.Input((None,), dtype="float32", name="waveform")
            common = dict(
                sample_rate=sample_rate,
                frame_length=frame_length,
                frame_step=frame_step,
                name="features",
            )
            if features == "mfcc":
                front_end = feature_layers.MFCC(
                    num_coefficients=mfcc_coefficients, num_mel_bins=mel_bins, **common
                )
            else:
                front_end = feature_layers.LogMelSpectrogram(num_mel_bins=mel_bins, **common)
            x = front_end(signal)
            frame_lengths = feature_layers.FrameLengths(
                frame_length, frame_step, name="frame_lengths"
            )(lengths)
        else:
            signal = keras.Input((None, feature_channels), dtype="float32", name="features")
            x = signal
            frame_lengths = feature_layers.FrameLengths(None, name="frame_lengths")(lengths)
        mask = feature_layers.FrameMask(name="frame_mask")([x, frame_lengths])
        if deltas:
            x = feature_layers.Deltas(order=deltas, name="deltas")(x, mask=mask)
        if cmvn != "none":
            x = feature_layers.CMVN(mode=cmvn, name="cmvn")(x, mask=mask)
        if spec_augment:
            x = feature_layers.SpecAugment(
                frequency_masks=frequency_masks,
                frequency_mask_width=frequency_mask_width,
                time_masks=time_masks,
                time_mask_width=time_mask_width,
                seed=seed,
                name="spec_augment",
            )(x, mask=mask)
        if stack_left or stack_right or stride > 1:
            x = feature_layers.FrameStacking(
                left_context=stack_left,
                right_context=stack_right,
                stride=stride,
                name="frame_stacking",
            )(x, mask=mask)
            frame_lengths = feature_layers.FrameLengths(
                frame_length if feature_channels is None else None,
                frame_step,
                stride=stride,
                name="stacked_frame_lengths",
            )(lengths)
            mask = feature_layers.FrameMask(name="stacked_frame_mask")([x, frame_lengths])
        layer_class = recurrent_layers.get(cell)
        options = {"projection": projection} if projection else {}
        for index in range(num_layers):
            recurrent = layer_class(units, return_sequences=True, name=f"{cell}_{index}", **options)
            if bidirectional:
                recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_{index}")
            x = recurrent(x, mask=mask)
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
        if attention != "none":
            mechanism = attention_registry.get(attention, attention_units, name="attention")
            context, _ = mechanism(x, x, memory_mask=mask)
            x = keras.layers.Concatenate(name="with_context")([x, context])
            x = keras.layers.Dense(attention_units, activation="tanh", name="attention_layer")(x)
        if mode == "ctc":
            logits = keras.layers.Dense(num_labels + 1, dtype="float32", name="logits")(x)
            outputs = BlankPadding(dtype="float32", name="blank_padding")([logits, mask])
        else:
            outputs = keras.layers.Dense(
                num_labels, activation="softmax", dtype="float32", name="probabilities"
            )(x)
        super().__init__(inputs=[signal, lengths], outputs=outputs, **kwargs)

        # === Config ===
        self.num_labels = num_labels
        self.label_names = label_names
        self.mode = mode
        self.feature_type = features
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.mel_bins = mel_bins
        self.mfcc_coefficients = mfcc_coefficients
        self.deltas = deltas
        self.cmvn = cmvn
        self.spec_augment = spec_augment
        self.frequency_masks = frequency_masks
        self.frequency_mask_width = frequency_mask_width
        self.time_masks = time_masks
        self.time_mask_width = time_mask_width
        self.seed = seed
        self.stack_left = stack_left
        self.stack_right = stack_right
        self.stride = stride
        self.feature_channels = feature_channels
        self.cell = cell
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.projection = projection
        self.attention = attention
        self.attention_units = attention_units
        self.dropout = dropout
        self.compile()

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with the tagger's defaults for `"auto"`.

        Args:
            optimizer: `"auto"` (default: Adam, learning rate 1e-3, global
                gradient norm clipped to 1.0) or any Keras optimizer.
            loss: `"auto"` (default: framewise, sparse categorical
                cross-entropy, masked by the `sample_weight` of the valid
                frames; ctc, `toolkit.losses.MaskedCTC`) or any Keras loss.
            metrics: `"auto"` (default: framewise, `accuracy` as a weighted
                metric, so the frame mask counts; ctc, none) or a list.
            **kwargs: Other `keras.Model.compile` arguments.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=1e-3, global_clipnorm=1.0)
        if loss == "auto":
            loss = MaskedCTC() if self.mode == "ctc" else "sparse_categorical_crossentropy"
        if metrics == "auto":
            metrics = None
            if self.mode == "framewise" and "weighted_metrics" not in kwargs:
                kwargs["weighted_metrics"] = ["accuracy"]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        # Keras skips this for a model whose `compile` is its own (and warns),
        # which left a loaded model uncompiled, its optimizer state unread.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # === Frames ===

    @property
    def takes_waveform(self):
        """Whether the model reads waveforms (else precomputed features)."""
        return self.feature_channels is None

    def output_lengths(self, lengths):
        """Valid output frames of inputs of `lengths` valid samples (or frames).

        Args:
            lengths: Integers `(batch,)`.

        Returns:
            An int32 NumPy array `(batch,)`.
        """
        layer = self.get_layer(
            "stacked_frame_lengths" if self._has_layer("stacked_frame_lengths") else "frame_lengths"
        )
        lengths = keras.ops.convert_to_tensor(np.asarray(lengths, dtype="int32").reshape(-1))
        return np.asarray(keras.ops.convert_to_numpy(layer(lengths))).astype("int32")

    def frame_timing(self):
        """`(seconds_per_output_frame, offset_seconds)` of the output frames.

        Output frame `t` covers `[offset + t * step, offset + (t + 1) * step)`
        seconds: a frame stands for its hop(s), centred on its window's centre.

        Returns:
            A pair of floats.
        """
        return frame_timing(self.sample_rate, self.frame_length, self.frame_step, self.stride)

    def streaming_blockers(self):
        """Why the model cannot tag a stream chunk by chunk; empty when it can.

        Returns:
            A list of strings, each naming an argument and its value.
        """
        return streaming_blockers(
            feature_channels=self.feature_channels,
            bidirectional=self.bidirectional,
            mode=self.mode,
            cmvn=self.cmvn,
            deltas=self.deltas,
            stack_left=self.stack_left,
            stack_right=self.stack_right,
            stride=self.stride,
            attention=self.attention,
        )

    def _has_layer(self, name):
        return any(layer.name == name for layer in self.layers)

    def feature_model(self, before_cmvn=False):
        """`[signal, lengths]` -> `[frames, mask]`: the front-end's frames.

        The frames before SpecAugment and stacking; with `before_cmvn`, the
        frames the CMVN layer normalizes.
        """
        order = ("deltas", "features") if before_cmvn else ("cmvn", "deltas", "features")
        names = {layer.name for layer in self.layers}
        last = next((name for name in order if name in names), None)
        frames = self.get_layer(last).output if last else self.inputs[0]
        mask = self.get_layer("frame_mask").output
        return keras.Model(self.inputs, [frames, mask], name="feature_model")

    def adapt_cmvn(self, data, lengths=None, batch_size=32):
        """Sets the statistics of `cmvn="global"` from the valid frames of `data`.

        Args:
            data: Waveforms: a list of 1-D arrays, or a padded array
                `(batch, samples)` with `lengths`; or an iterable of batches
                of model inputs (`[signal, lengths]` or a dict of them), each
                alone or first in a tuple (a training dataset's batches).
                Precomputed features likewise for a `feature_channels` model.
            lengths: Optional integers `(batch,)` for a padded array.
            batch_size: Positive integer (default `32`) for arrays.
        """
        if self.cmvn != "global":
            raise ValueError(
                "FrameTagger.adapt_cmvn needs `cmvn='global'`. "
                f"Received: a model with cmvn={self.cmvn!r}"
            )
        if isinstance(data, (list, np.ndarray)) and (
            lengths is not None or not len(data) or np.ndim(data[0]) == self._signal_rank() - 1
        ):
            batches = self._padded_batches(data, lengths, batch_size)
        else:
            batches = data
        model = self.feature_model(before_cmvn=True)
        frames = []
        for batch in batches:
            inputs = batch[0] if isinstance(batch, tuple) else batch
            values, mask = model.predict_on_batch(inputs)
            frames.append(np.asarray(values)[np.asarray(mask)])
        self.get_layer("cmvn").adapt(np.concatenate(frames))

    # === Tagging ===

    def _signal_rank(self):
        return 2 if self.takes_waveform else 3

    def _padded_batches(self, signals, lengths, batch_size):
        """`[signal, lengths]` batches of a list of signals or a padded array."""
        if lengths is None:
            signals = [np.asarray(signal, dtype="float32") for signal in signals]
            lengths = np.array([len(signal) for signal in signals], dtype="int32")
        else:
            signals = np.asarray(signals, dtype="float32")
            lengths = np.asarray(lengths, dtype="int32").reshape(-1)
            if signals.ndim != self._signal_rank() or len(lengths) != len(signals):
                raise ValueError(
                    "Argument `lengths` expected one length per row of a padded "
                    f"{self._signal_rank()}-D signal array. Received: {len(lengths)} lengths "
                    f"for signals of shape {signals.shape}"
                )
            lengths = np.clip(lengths, 0, signals.shape[1])
        for start in range(0, len(signals), batch_size):
            part = signals[start : start + batch_size]
            part_lengths = lengths[start : start + batch_size]
            # At least one whole window, so every batch has a frame.
            size = max([int(n) for n in part_lengths] + [self.frame_length, 1])
            if not self.takes_waveform:
                size = max(int(max(part_lengths)), 1)
            shape = (len(part), size) + (() if self.takes_waveform else (self.feature_channels,))
            padded = np.zeros(shape, dtype="float32")
            for row, (signal, length) in enumerate(zip(part, part_lengths)):
                padded[row, :length] = signal[:length]
            yield [padded, part_lengths]

    def tag(self, waveforms, lengths=None, batch_size=32):
        """Tags utterances: frame labels and segments, or the CTC label sequence.

        Args:
            waveforms: A list of float32 1-D waveforms, or a padded array
                `(batch, samples)` with `lengths` (precomputed features
                `(frames, feature_channels)` each for a `feature_channels`
                model).
            lengths: Optional integers `(batch,)`, valid samples per row of a
                padded array (clipped to its width).
            batch_size: Positive integer (default `32`).

        Returns:
            One dict per utterance. Framewise: `"frame_labels"` (the most
            probable label of each valid frame) and `"segments"`, runs of
            equal labels as `(start_seconds, end_seconds, label)` (see
            `frame_timing`). CTC: `"labels"`, the greedy decoding (the best
            label per frame, repeats merged, blanks dropped). Labels are
            `label_names` entries, or indices without them. An utterance
            shorter than one window has no frames, hence empty lists.
        """
        batch_size = check_positive_int("batch_size", batch_size)
        names = self.label_names or list(range(self.num_labels))
        seconds_per_frame, offset = self.frame_timing()
        results = []
        for inputs in self._padded_batches(waveforms, lengths, batch_size):
            outputs = np.asarray(self.predict_on_batch(inputs))
            for row, frames in enumerate(self.output_lengths(inputs[1])):
                best = outputs[row, :frames].argmax(-1)
                if self.mode == "ctc":
                    results.append({"labels": [names[i] for i in ctc_greedy(best)]})
                    continue
                labels = [names[i] for i in best]
                results.append(
                    {
                        "frame_labels": labels,
                        "segments": segments(labels, seconds_per_frame, offset),
                    }
                )
        return results

    # === Config ===

    def get_config(self):
        # Not the functional config: the constructor's arguments rebuild the model.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_labels": self.num_labels,
            "label_names": self.label_names,
            "mode": self.mode,
            "features": self.feature_type,
            "sample_rate": self.sample_rate,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "mel_bins": self.mel_bins,
            "mfcc_coefficients": self.mfcc_coefficients,
            "deltas": self.deltas,
            "cmvn": self.cmvn,
            "spec_augment": self.spec_augment,
            "frequency_masks": self.frequency_masks,
            "frequency_mask_width": self.frequency_mask_width,
            "time_masks": self.time_masks,
            "time_mask_width": self.time_mask_width,
            "seed": self.seed,
            "stack_left": self.stack_left,
            "stack_right": self.stack_right,
            "stride": self.stride,
            "feature_channels": self.feature_channels,
            "cell": self.cell,
            "units": self.units,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "projection": self.projection,
            "attention": self.attention,
            "attention_units": self.attention_units,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # === Presets ===

    def save_to_preset(self, preset_dir):
        """Writes the tagger to a local preset folder (keras-hub's file names).

        `task.json` (the constructor's arguments), `task.weights.h5` and
        `metadata.json`; the tagger has no separate backbone or preprocessor
        (its front-end is part of the model).

        Args:
            preset_dir: Path of a local folder, created if missing.
        """
        preset_dir = pathlib.Path(preset_dir)
        preset_dir.mkdir(parents=True, exist_ok=True)
        config = keras.saving.serialize_keras_object(self)
        for key in ("compile_config", "build_config"):
            config.pop(key, None)
        text = json.dumps(config, indent=2) + "\n"
        (preset_dir / presets.TASK_CONFIG).write_text(text, encoding="utf-8")
        self.save_weights(preset_dir / presets.TASK_WEIGHTS)
        presets._write_metadata(self, preset_dir)

    @classmethod
    def from_preset(cls, preset_dir, load_weights=True, **kwargs):
        """The tagger saved in a local preset folder by `save_to_preset`.

        Args:
            preset_dir: Path of a local preset folder.
            load_weights: Boolean (default `True`); `False` gives fresh weights.
            **kwargs: Constructor arguments that replace the saved ones.
                Weights load when they leave the weights' shapes as saved
                (`name`, `trainable`, `label_names`, `dropout`, `seed`); any
                other (a new head: `num_labels`, `mode`; another
                architecture) gives fresh weights.

        Returns:
            The tagger, compiled with its defaults.
        """
        config = presets._read_config(cls, preset_dir, presets.TASK_CONFIG)
        tagger = presets._deserialize(config, kwargs)
        if load_weights and set(kwargs) <= SAME_WEIGHTS:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
                tagger.load_weights(pathlib.Path(preset_dir) / presets.TASK_WEIGHTS)
        return tagger


def ctc_greedy(best_classes):
    """Label indices of a best path: repeats merged, blanks (class 0) dropped, minus 1.

    Args:
        best_classes: Integers `(frames,)`, the best class of each valid frame.

    Returns:
        A list of label indices (`class - 1`).
    """
    labels, previous = [], None
    for value in np.asarray(best_classes).tolist():
        if value != previous and value != 0:
            labels.append(value - 1)
        previous = value
    return labels


def segments(frame_labels, seconds_per_frame, offset_seconds):
    """`(start, end, label)` runs of equal frame labels, in seconds.

    Frame `t` stands for `[offset + t * step, offset + (t + 1) * step)`
    seconds, where `offset` places the interval around the window's centre
    (`toolkit.models.streaming.frame_timing`).
    """
    runs = []
    for index, label in enumerate(frame_labels):
        if runs and runs[-1][2] == label:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1, label])
    return [
        (offset_seconds + start * seconds_per_frame, offset_seconds + end * seconds_per_frame, lab)
        for start, end, lab in runs
    ]


def streaming_blockers(
    *,
    feature_channels,
    bidirectional,
    mode,
    cmvn,
    deltas,
    stack_left,
    stack_right,
    stride,
    attention,
):
    """Why a tagger of these `FrameTagger` arguments cannot stream (empty: it can).

    Returns:
        A list of strings, each naming an argument and its value.
    """
    blockers = []
    if feature_channels is not None:
        blockers.append("feature_channels is set (streaming reads waveforms)")
    if bidirectional:
        blockers.append("bidirectional=True (the backward pass needs the whole utterance)")
    if mode != "framewise":
        blockers.append(f"mode={mode!r} (streaming emits frame labels)")
    if cmvn == "utterance":
        blockers.append("cmvn='utterance' (needs the whole utterance's statistics)")
    if deltas:
        blockers.append(f"deltas={deltas} (deltas look at future frames)")
    if stack_left or stack_right or stride != 1:
        blockers.append("frame stacking (stack_left/stack_right/stride)")
    if attention != "none":
        blockers.append(f"attention={attention!r} (attends over the whole utterance)")
    return blockers
