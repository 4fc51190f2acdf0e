"""Mel-frequency cepstral coefficients over `LogMelSpectrogram`."""

import keras
import numpy as np
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.features.log_mel import LogMelSpectrogram


def dct_matrix(num_coefficients, num_mel_bins):
    """Orthonormal DCT-II rows `(num_coefficients, num_mel_bins)`, float64."""
    k = np.arange(num_coefficients)[:, None]
    n = np.arange(num_mel_bins)[None, :]
    matrix = np.sqrt(2.0 / num_mel_bins) * np.cos(np.pi * k * (n + 0.5) / num_mel_bins)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def lifter_weights(num_coefficients, lifter):
    """HTK/Kaldi sinusoidal liftering `1 + (L / 2) sin(pi i / L)`; ones for `L = 0`."""
    if not lifter:
        return np.ones(num_coefficients)
    return 1.0 + 0.5 * lifter * np.sin(np.pi * np.arange(num_coefficients) / lifter)


@keras.saving.register_keras_serializable(package="toolkit")
class MFCC(keras.layers.Layer):
    """Mel-frequency cepstral coefficients of waveforms (HTK/Kaldi style).

    The log-mel energies `e` of a `LogMelSpectrogram` sub-layer (same framing,
    window, pre-emphasis and filterbank; the arguments they share mean the
    same), then, with `M = num_mel_bins`, `L = lifter` and `i < num_coefficients`:

    ```
    c[i] = s_i * sum_j e[j] * cos(pi * i * (j + 0.5) / M)   # orthonormal DCT-II:
                                                            # s_0 = sqrt(1/M), else sqrt(2/M)
    c[i] = c[i] * (1 + (L / 2) * sin(pi * i / L))           # liftering, if L > 0
    c[0] = log(max(sum_n x[n]^2, log_floor))                # if use_energy
    ```

    where `x` is the frame after DC removal, before pre-emphasis and window
    (Kaldi's raw log energy replaces `c[0]`). Frames and valid lengths are
    those of `LogMelSpectrogram` (`output_lengths`).

    Args:
        num_coefficients: Positive integer `<= num_mel_bins` (default `13`).
        lifter: Non-negative integer (default `22`); `0` disables liftering.
        use_energy: Boolean (default `False`), replace `c[0]` by the frame's
            log energy.
        sample_rate: Positive integer (default `16000`), in Hertz.
        frame_length: Positive integer (default `400`), samples per frame.
        frame_step: Positive integer (default `160`), samples between frames.
        fft_length: Integer `>= frame_length`, or `None` (default) for the
            next power of two.
        num_mel_bins: Positive integer (default `23`), number of mel filters.
        lower_edge_hertz: Float (default `20.0`).
        upper_edge_hertz: Float or `None` (default: `sample_rate / 2`).
        window: `"hamming"` (default) or `"hann"`.
        pre_emphasis: Float in [0, 1] (default `0.97`); `0.0` disables it.
        remove_dc: Boolean (default `True`).
        log_floor: Positive float (default `1e-6`).
        power: Positive float (default `2.0`).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        waveforms: `(batch, samples)` float, in [-1, 1], right-padded.

    Returns:
        `(batch, frames(samples), num_coefficients)`.

    Example:

    >>> import keras, numpy as np
    >>> waveforms = np.random.default_rng(0).uniform(-0.1, 0.1, (2, 4000))
    >>> layer = MFCC(num_coefficients=13, use_energy=True)
    >>> tuple(layer(waveforms.astype("float32")).shape)
    (2, 23, 13)
    >>> keras.ops.convert_to_numpy(layer.output_lengths([4000, 399])).tolist()
    [23, 0]
    """

    _config_names = ("num_coefficients", "lifter", "use_energy")

    def __init__(
        self,
        num_coefficients=13,
        lifter=22,
        use_energy=False,
        sample_rate=16000,
        frame_length=400,
        frame_step=160,
        fft_length=None,
        num_mel_bins=23,
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
        self.log_mel = LogMelSpectrogram(
            sample_rate=sample_rate,
            frame_length=frame_length,
            frame_step=frame_step,
            fft_length=fft_length,
            num_mel_bins=num_mel_bins,
            lower_edge_hertz=lower_edge_hertz,
            upper_edge_hertz=upper_edge_hertz,
            window=window,
            pre_emphasis=pre_emphasis,
            remove_dc=remove_dc,
            log_floor=log_floor,
            power=power,
            dtype="float32",
            name="log_mel",
        )
        self.num_coefficients = check_positive_int("num_coefficients", num_coefficients)
        if self.num_coefficients > self.log_mel.num_mel_bins:
            raise ValueError(
                "Argument `num_coefficients` expected an integer <= num_mel_bins "
                f"({self.log_mel.num_mel_bins}). Received: num_coefficients={num_coefficients!r}"
            )
        if isinstance(lifter, bool) or not isinstance(lifter, int) or lifter < 0:
            raise ValueError(
                f"Argument `lifter` expected a non-negative integer. Received: lifter={lifter!r}"
            )
        self.lifter = lifter
        self.use_energy = bool(use_energy)
        dct = dct_matrix(self.num_coefficients, self.log_mel.num_mel_bins)
        self._cepstra = (dct.T * lifter_weights(self.num_coefficients, lifter)).astype("float32")

    @property
    def input_dtype(self):
        return "float32"  # see LogMelSpectrogram

    def build(self, input_shape):
        self.log_mel.build(input_shape)

    def output_lengths(self, sample_lengths):
        """Valid frames `(batch,)` int32 of waveforms with `sample_lengths` samples."""
        return self.log_mel.output_lengths(sample_lengths)

    def call(self, waveforms):
        log_mel, log_energy = self.log_mel.log_mel_and_energy(waveforms, self.use_energy)
        cepstra = ops.matmul(log_mel, ops.convert_to_tensor(self._cepstra))
        if self.use_energy:
            cepstra = ops.concatenate([log_energy[..., None], cepstra[..., 1:]], axis=-1)
        return ops.cast(cepstra, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        batch, frames, _ = self.log_mel.compute_output_shape(input_shape)
        return (batch, frames, self.num_coefficients)

    def get_config(self):
        config = super().get_config()
        for name in LogMelSpectrogram._config_names:
            config[name] = getattr(self.log_mel, name)
        config.update({name: getattr(self, name) for name in self._config_names})
        return config
