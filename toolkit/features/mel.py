"""The HTK mel scale and its triangular filterbank (NumPy, computed once)."""

import numpy as np

from toolkit.arguments import check_positive_int


def hertz_to_mel(frequencies):
    """HTK mel scale: `2595 * log10(1 + f / 700)`."""
    return 2595.0 * np.log10(1.0 + np.asarray(frequencies, np.float64) / 700.0)


def check_band_edges(sample_rate, lower_edge_hertz, upper_edge_hertz):
    """`(lower, upper)` as floats, `upper=None` meaning the Nyquist frequency."""
    nyquist = sample_rate / 2.0
    upper = nyquist if upper_edge_hertz is None else upper_edge_hertz
    for name, value in (("lower_edge_hertz", lower_edge_hertz), ("upper_edge_hertz", upper)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(
                f"Argument `{name}` expected a number of Hertz. Received: {name}={value!r}"
            )
    if not 0.0 <= lower_edge_hertz < upper <= nyquist:
        raise ValueError(
            "Arguments `lower_edge_hertz` and `upper_edge_hertz` expected "
            f"0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2 = {nyquist}. "
            f"Received: lower_edge_hertz={lower_edge_hertz!r}, "
            f"upper_edge_hertz={upper_edge_hertz!r}"
        )
    return float(lower_edge_hertz), float(upper)


def mel_filterbank(
    num_mel_bins=40,
    fft_length=512,
    sample_rate=16000,
    lower_edge_hertz=20.0,
    upper_edge_hertz=None,
):
    """Triangular filters on the HTK mel scale, as a NumPy matrix.

    The mel scale is HTK's `mel(f) = 2595 * log10(1 + f / 700)`. The band
    edges `m_0 < m_1 < ... < m_{M+1}` are equally spaced in mel between
    `mel(lower_edge_hertz)` and `mel(upper_edge_hertz)`; filter `j` rises
    linearly in mel from `m_j` to 1 at `m_{j+1}` and falls back to 0 at
    `m_{j+2}`. FFT bin `k` (frequency `k * sample_rate / fft_length`)
    gets the weight of its own mel value (as in HTK and Kaldi), so the DC
    bin gets none. The filters are not area-normalized. This is the matrix of
    `tf.signal.linear_to_mel_weight_matrix` (whose `1127 * ln(1 + f / 700)`
    is the same scale: the weights are ratios of mel differences).

    Args:
        num_mel_bins: Positive integer (default `40`), number of filters `M`.
        fft_length: Positive integer (default `512`); the spectrum has
            `fft_length // 2 + 1` bins.
        sample_rate: Positive integer (default `16000`), in Hertz.
        lower_edge_hertz: Float (default `20.0`), lower edge of the first
            filter.
        upper_edge_hertz: Float or `None` (default: `sample_rate / 2`),
            upper edge of the last filter.

    Returns:
        A float32 NumPy array `(fft_length // 2 + 1, num_mel_bins)`; a
        power spectrum `(..., fft_length // 2 + 1)` times it gives the mel
        energies.

    Example:

    >>> weights = mel_filterbank(num_mel_bins=23, fft_length=512)
    >>> weights.shape, float(weights.max()) <= 1.0, float(weights[0].sum())
    ((257, 23), True, 0.0)
    """
    num_mel_bins = check_positive_int("num_mel_bins", num_mel_bins)
    fft_length = check_positive_int("fft_length", fft_length)
    sample_rate = check_positive_int("sample_rate", sample_rate)
    lower, upper = check_band_edges(sample_rate, lower_edge_hertz, upper_edge_hertz)
    bin_mels = hertz_to_mel(np.arange(fft_length // 2 + 1) * sample_rate / fft_length)
    edges = np.linspace(hertz_to_mel(lower), hertz_to_mel(upper), num_mel_bins + 2)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mels[:, None] - left) / (center - left)
    falling = (right - bin_mels[:, None]) / (right - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights.astype(np.float32)
