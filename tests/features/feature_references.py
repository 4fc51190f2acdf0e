"""Independent NumPy references of the audio front-end, written from the
Kaldi/HTK definitions with plain loops and `np.fft` (no toolkit code)."""

import math

import numpy as np


def frame_count(samples, frame_length, frame_step):
    if samples < frame_length:
        return 0
    return 1 + (samples - frame_length) // frame_step


def mel(hertz):
    return 2595.0 * math.log10(1.0 + hertz / 700.0)


def filterbank(num_mel_bins, fft_length, sample_rate, lower, upper):
    """`(fft_length // 2 + 1, num_mel_bins)` triangles, one bin at a time (Kaldi's loop)."""
    low, high = mel(lower), mel(upper)
    step = (high - low) / (num_mel_bins + 1)
    weights = np.zeros((fft_length // 2 + 1, num_mel_bins))
    for j in range(num_mel_bins):
        left, center, right = low + j * step, low + (j + 1) * step, low + (j + 2) * step
        for k in range(fft_length // 2 + 1):
            m = mel(k * sample_rate / fft_length)
            if left < m <= center:
                weights[k, j] = (m - left) / (center - left)
            elif center < m < right:
                weights[k, j] = (right - m) / (right - center)
    return weights


def window(name, length):
    a, b = (0.54, 0.46) if name == "hamming" else (0.5, 0.5)
    return np.array([a - b * math.cos(2 * math.pi * i / (length - 1)) for i in range(length)])


def log_mel(
    waveform,
    sample_rate=16000,
    frame_length=400,
    frame_step=160,
    fft_length=512,
    num_mel_bins=40,
    lower_edge_hertz=20.0,
    upper_edge_hertz=None,
    window_name="hamming",
    pre_emphasis=0.97,
    remove_dc=True,
    log_floor=1e-6,
    power=2.0,
    return_energy=False,
):
    """`(frames, num_mel_bins)` of one waveform (and `(frames,)` log energies)."""
    upper = sample_rate / 2 if upper_edge_hertz is None else upper_edge_hertz
    weights = filterbank(num_mel_bins, fft_length, sample_rate, lower_edge_hertz, upper)
    taper = window(window_name, frame_length)
    features, energies = [], []
    for t in range(frame_count(len(waveform), frame_length, frame_step)):
        frame = np.array(waveform[t * frame_step : t * frame_step + frame_length], np.float64)
        if remove_dc:
            frame = frame - frame.mean()
        energies.append(math.log(max(float(np.sum(frame**2)), log_floor)))
        emphasized = frame.copy()
        for i in range(frame_length - 1, 0, -1):
            emphasized[i] = frame[i] - pre_emphasis * frame[i - 1]
        emphasized[0] = frame[0] - pre_emphasis * frame[0]
        spectrum = np.abs(np.fft.rfft(emphasized * taper, n=fft_length)) ** power
        features.append(np.log(np.maximum(spectrum @ weights, log_floor)))
    features = np.array(features).reshape(-1, num_mel_bins)
    return (features, np.array(energies)) if return_energy else features


def mfcc(waveform, num_coefficients=13, lifter=22, use_energy=False, num_mel_bins=23, **kwargs):
    log_mels, energies = log_mel(waveform, num_mel_bins=num_mel_bins, return_energy=True, **kwargs)
    m = num_mel_bins
    cepstra = np.zeros((len(log_mels), num_coefficients))
    for t, row in enumerate(log_mels):
        for i in range(num_coefficients):
            scale = math.sqrt((1.0 if i == 0 else 2.0) / m)
            total = sum(row[j] * math.cos(math.pi * i * (j + 0.5) / m) for j in range(m))
            lift = 1.0 + lifter / 2.0 * math.sin(math.pi * i / lifter) if lifter else 1.0
            cepstra[t, i] = scale * total * lift
        if use_energy:
            cepstra[t, 0] = energies[t]
    return cepstra


def deltas(features, window=2):
    """HTK deltas of `(frames, channels)`, edges replicated."""
    frames = len(features)
    denominator = 2 * sum(n * n for n in range(1, window + 1))
    result = np.zeros_like(features, dtype=np.float64)
    for t in range(frames):
        for n in range(1, window + 1):
            ahead = features[min(t + n, frames - 1)]
            behind = features[max(t - n, 0)]
            result[t] += n * (ahead - behind) / denominator
    return result


def deltas_and_accelerations(features, order=2, window=2):
    blocks = [np.asarray(features, np.float64)]
    for _ in range(order):
        blocks.append(deltas(blocks[-1], window))
    return np.concatenate(blocks, axis=-1)


def cmvn(features, normalize_variance=True, epsilon=1e-5):
    """One utterance `(frames, channels)`, all frames valid."""
    features = np.asarray(features, np.float64)
    mean = features.mean(axis=0)
    centred = features - mean
    if not normalize_variance:
        return centred
    return centred / np.sqrt(features.var(axis=0) + epsilon)


def frame_stacking(features, left_context, right_context, stride):
    """One sequence `(frames, channels)`, all frames valid."""
    frames = len(features)
    outputs = []
    for j in range(0, frames, stride):
        row = []
        for offset in range(-left_context, right_context + 1):
            row.extend(features[min(max(j + offset, 0), frames - 1)])
        outputs.append(row)
    return np.array(outputs)
