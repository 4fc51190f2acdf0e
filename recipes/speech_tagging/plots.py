"""utterance.png: one utterance's features over time, with its reference and predicted labels."""

import numpy as np


def plot_utterance(features, reference, predicted, seconds_per_frame, stride, path, title=None):
    """Writes the features (an image over time) above label tracks to a PNG.

    Args:
        features: float `(frames, channels)` front-end frames (log-mel or MFCC).
        reference: Reference label of each output frame.
        predicted: Predicted label of each output frame, or `None` (CTC).
        seconds_per_frame: Seconds per input frame.
        stride: Input frames per output frame.
        path: The PNG to write.
        title: Optional title.
    """
    from matplotlib.figure import Figure

    tracks = [("reference", reference)] + ([("predicted", predicted)] if predicted else [])
    duration = features.shape[0] * seconds_per_frame
    figure = Figure(figsize=(max(8.0, min(2.5 * duration + 2, 30.0)), 4.5), layout="constrained")
    axes = figure.subplots(1 + len(tracks), 1, sharex=True, height_ratios=[4] + [1] * len(tracks))
    axes[0].imshow(
        np.asarray(features).T,
        origin="lower",
        aspect="auto",
        extent=(0.0, duration, 0, features.shape[1]),
        cmap="magma",
    )
    axes[0].set_ylabel("channel")
    if title:
        axes[0].set_title(title, fontsize=9)
    step = seconds_per_frame * stride
    for axis, (name, labels) in zip(axes[1:], tracks):
        _label_track(axis, labels, step)
        axis.set_ylabel(name, rotation=0, ha="right", va="center")
    axes[-1].set_xlabel("seconds")
    if predicted:
        wrong = [i for i, (r, p) in enumerate(zip(reference, predicted)) if r != p]
        for index in wrong:
            axes[-1].axvspan(index * step, (index + 1) * step, color="red", alpha=0.25, lw=0)
    figure.savefig(path, dpi=100)


def _label_track(axis, labels, step):
    """Alternating shaded runs of equal labels, each named at its middle."""
    start = 0
    runs = []
    for index in range(1, len(labels) + 1):
        if index == len(labels) or labels[index] != labels[start]:
            runs.append((start, index, labels[start]))
            start = index
    for number, (begin, end, label) in enumerate(runs):
        axis.axvspan(begin * step, end * step, color="0.85" if number % 2 else "0.7", lw=0)
        axis.text((begin + end) / 2 * step, 0.5, label, ha="center", va="center", fontsize=7)
    axis.set_yticks([])
    axis.set_ylim(0, 1)
