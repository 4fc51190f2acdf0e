"""Log-mel filterbank energies of waveforms, framed the Kaldi/HTK way."""

import keras
import numpy as np
from keras import ops

from toolkit.arguments import check_positive_float
from toolkit.arguments import check_positive_int
from toolkit.features.checks import check_fraction
from toolkit.features.lengths import frame_lengths
from toolkit.features.lengths import time_steps
from toolkit.features.mel import check_band_edges
from toolkit.features.mel import mel_filterbank

WINDOWS = ("hamming", "hann")


def window_function(window, frame_length):
    """The symmetric (HTK/Kaldi) `window` of `frame_length` samples, float64."""
    if window not in WINDOWS:
        raise ValueError(
            f"Argument `window` expected one of {WINDOWS}. Received: window={window!r}"
        )
    if frame_length == 1:
        return np.ones(1)
    cosine = np.cos(2.0 * np.pi * np.arange(frame_length) / (frame_length - 1))
    return 0.54 - 0.46 * cosine if window == "hamming" else 0.5 - 0.5 * cosine


def frame_signal(waveforms, frame_length, frame_step):
    """`(batch, samples)` -> `(batch, frames(samples), frame_length)`, snip edges."""
    samples = time_steps(waveforms)
    if isinstance(samples, int):
        frames = max(0, 1 + (samples - frame_length) // frame_step)
        if frames == 0:  # (JAX cannot gather from an empty axis)
            return ops.zeros((ops.shape(waveforms)[0], 0, frame_length), waveforms.dtype)
    else:
        frames = ops.maximum(0, 1 + ops.floor_divide(samples - frame_length, frame_step))
    starts = ops.arange(frames, dtype="int32") * frame_step
    indices = ops.expand_dims(starts, 1) + ops.arange(frame_length, dtype="int32")
    return ops.take(waveforms, indices, axis=1)


@keras.saving.register_keras_serializable(package="toolkit")
class LogMelSpectrogram(keras.layers.Layer):
    """Log-mel filterbank energies ("fbank" features) of waveforms.

    Framing follows Kaldi and HTK ("snip edges"): no centering, frame `t`
    covers samples `[t * frame_step, t * frame_step + frame_length)`, and a
    waveform of `n` samples has `frame_lengths(n)` frames
    (`0 if n < frame_length else 1 + (n - frame_length) // frame_step`).
    Each frame `x` (`frame_length` samples) becomes, in float32:

    ```
    x = x - mean(x)                          # remove_dc
    y[0] = x[0] - a * x[0]                   # pre-emphasis a, within the frame
    y[i] = x[i] - a * x[i - 1]
    S[k] = |rfft(y * w, fft_length)[k]| ** power       # w: symmetric window
    E[j] = sum_k S[k] * H[k, j]              # H: mel_filterbank(...)
    features[j] = log(max(E[j], log_floor))
    ```

    The windows are the symmetric ones of HTK and Kaldi
    (`0.54 - 0.46 cos(2 pi i / (frame_length - 1))` for Hamming,
    `0.5 - 0.5 cos(...)` for Hann); `H` is the HTK-mel triangular
    filterbank of `mel_filterbank`, held as a constant (the layer has no
    weights). With right-padded waveforms, the first `frame_lengths(n)`
    frames of each utterance (its valid frames, from `output_lengths`) are
    the frames it gets alone, to float rounding (about 5e-7: the FFT of a
    batch of another shape rounds differently); the frames after them
    overlap the padding. Under a mixed precision policy the waveforms are
    not cast: the layer computes in float32 and returns the compute dtype.

    Args:
        sample_rate: Positive integer (default `16000`), in Hertz.
        frame_length: Positive integer (default `400`, 25 ms at 16 kHz),
            samples per frame.
        frame_step: Positive integer (default `160`, 10 ms at 16 kHz),
            samples between the starts of consecutive frames.
        fft_length: Integer `>= frame_length`, or `None` (default) for the
            next power of two (`512` for `400`).
        num_mel_bins: Positive integer (default `40`), number of mel filters.
        lower_edge_hertz: Float (default `20.0`), lower edge of the first
            filter.
        upper_edge_hertz: Float or `None` (default: `sample_rate / 2`), upper
            edge of the last filter.
        window: `"hamming"` (default) or `"hann"`.
        pre_emphasis: Float in [0, 1] (default `0.97`); `0.0` disables it.
        remove_dc: Boolean (default `True`), subtract each frame's mean first.
        log_floor: Positive float (default `1e-6`), floor of the mel energies
            before the logarithm.
        power: Positive float (default `2.0`): `2.0` power spectrum, `1.0`
            magnitude spectrum.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        waveforms: `(batch, samples)` float, in [-1, 1], right-padded.

    Returns:
        `(batch, frames(samples), num_mel_bins)`.

    Example:

    >>> import keras, numpy as np
    >>> waveforms = np.random.default_rng(0).uniform(-0.1, 0.1, (2, 16000))
    >>> layer = LogMelSpectrogram(num_mel_bins=40)
    >>> tuple(layer(waveforms.astype("float32")).shape)
    (2, 98, 40)
    >>> keras.ops.convert_to_numpy(layer.output_lengths([16000, 8000])).tolist()
    [98, 48]
    """

    _config_names = (
        "sample_rate",
        "frame_length",
        "frame_step",
        "fft_length",
        "num_mel_bins",
        "lower_edge_hertz",
        "upper_edge_hertz",
        "window",
        "pre_emphasis",
        "remove_dc",
        "log_floor",
        "power",
    )

    def __init__(
        self,
        sample_rate=16000,
        frame_length=400,
        frame_step=160,
        fft_length=None,
        num_mel_bins=40,
        lower_edge_hertz=20.0,
        upper_edge_hertz=None,
        window="hamming",
        pre_emphasis=0.97,
        remove_dc=True,
        log_floor=1e-6,
        power=2.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.frame_length = check_positive_int("frame_length", frame_length)
        self.frame_step = check_positive_int("frame_step", frame_step)
        if fft_length is None:
            fft_length = 1 << (self.frame_length - 1).bit_length()
        if check_positive_int("fft_length", fft_length) < self.frame_length:
            raise ValueError(
                "Argument `fft_length` expected an integer >= frame_length "
                f"({self.frame_length}). Received: fft_length={fft_length!r}"
            )
        self.fft_length = fft_length
        self.num_mel_bins = check_positive_int("num_mel_bins", num_mel_bins)
        self.lower_edge_hertz, self.upper_edge_hertz = check_band_edges(
            self.sample_rate, lower_edge_hertz, upper_edge_hertz
        )
        self.window = window
        self.pre_emphasis = check_fraction("pre_emphasis", pre_emphasis)
        self.remove_dc = bool(remove_dc)
        self.log_floor = check_positive_float("log_floor", log_floor)
        self.power = check_positive_float("power", power)
        self._window = window_function(window, self.frame_length).astype("float32")
        self._filterbank = mel_filterbank(
            self.num_mel_bins,
            self.fft_length,
            self.sample_rate,
            self.lower_edge_hertz,
            self.upper_edge_hertz,
        )

    @property
    def input_dtype(self):
        # Waveforms stay float32 under mixed precision (float16 would round
        # the samples before the FFT).
        return "float32"

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expected waveforms of rank 2 (batch, samples). "
                f"Received: input_shape={tuple(input_shape)}"
            )

    def output_lengths(self, sample_lengths):
        """Valid frames `(batch,)` int32 of waveforms with `sample_lengths` samples."""
        return frame_lengths(sample_lengths, self.frame_length, self.frame_step)

    def log_mel_and_energy(self, waveforms, with_energy=False):
        """`(log_mel, log_energy)` in float32; `log_energy` `(batch, frames)`
        (Kaldi's raw energy: after DC removal, before pre-emphasis and window)
        or `None` unless `with_energy`."""
        frames = frame_signal(ops.cast(waveforms, "float32"), self.frame_length, self.frame_step)
        if self.remove_dc:
            frames = frames - ops.mean(frames, axis=-1, keepdims=True)
        log_energy = None
        if with_energy:
            energy = ops.sum(ops.square(frames), axis=-1)
            log_energy = ops.log(ops.maximum(energy, self.log_floor))
        if self.pre_emphasis:
            previous = ops.concatenate([frames[..., :1], frames[..., :-1]], axis=-1)
            frames = frames - self.pre_emphasis * previous
        if frames.shape[1] == 0:  # no frame (a short batch): torch's MKL FFT refuses empty input
            real = imaginary = ops.zeros(
                (ops.shape(frames)[0], 0, self.fft_length // 2 + 1), frames.dtype
            )
        else:
            real, imaginary = ops.rfft(frames * self._window, fft_length=self.fft_length)
        spectrum = ops.square(real) + ops.square(imaginary)
        if self.power != 2.0:
            spectrum = ops.power(spectrum, self.power / 2.0)
        mel = ops.matmul(spectrum, ops.convert_to_tensor(self._filterbank))
        return ops.log(ops.maximum(mel, self.log_floor)), log_energy

    def call(self, waveforms):
        log_mel, _ = self.log_mel_and_energy(waveforms)
        return ops.cast(log_mel, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        batch, samples = tuple(input_shape)
        frames = None
        if samples is not None:
            frames = max(0, 1 + (samples - self.frame_length) // self.frame_step)
        return (batch, frames, self.num_mel_bins)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self._config_names})
        return config
