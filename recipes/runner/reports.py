"""What every classifier recipe reports: scikit-learn metrics and figures.

* `classification_metrics(true, predicted, class_names)`: accuracy, macro-F1
  and per-class precision / recall / F1 / support (scikit-learn), as a
  JSON-ready dict.
* `plot_confusion_matrix`, `plot_training_curves`, `plot_token_weights`:
  matplotlib figures written to PNG files (no `pyplot`, any backend).
* `write_json(path, value)`: indented JSON with a final newline.
"""

import contextlib
import json
import math
import time

import numpy as np


def classification_metrics(true, predicted, class_names):
    """Accuracy, macro-F1 and per-class scores of integer predictions.

    Args:
        true: Array-like of class indices `(examples,)`.
        predicted: Array-like of class indices `(examples,)`.
        class_names: List of the class names, in index order.

    Returns:
        A dict: `accuracy`, `macro_f1`, `examples` and `per_class`
        (`{name: {precision, recall, f1, support}}`); a class never
        predicted gets precision 0 (no warning).
    """
    from sklearn.metrics import accuracy_score
    from sklearn.metrics import f1_score
    from sklearn.metrics import precision_recall_fscore_support

    true = np.asarray(true)
    predicted = np.asarray(predicted)
    indices = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        true, predicted, labels=indices, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(true, predicted)),
        "macro_f1": float(
            f1_score(true, predicted, labels=indices, average="macro", zero_division=0)
        ),
        "examples": int(true.shape[0]),
        "per_class": {
            name: {
                "precision": float(precision[index]),
                "recall": float(recall[index]),
                "f1": float(f1[index]),
                "support": int(support[index]),
            }
            for index, name in enumerate(class_names)
        },
    }


def plot_confusion_matrix(true, predicted, class_names, path, title=None):
    """Writes the confusion matrix (counts, rows = true class) to a PNG."""
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(true, predicted, labels=list(range(len(class_names))))
    size = min(3.0 + 0.5 * len(class_names), 20.0)
    figure = Figure(figsize=(size, size), layout="constrained")
    ax = figure.subplots()
    display = ConfusionMatrixDisplay(matrix, display_labels=list(class_names))
    display.plot(ax=ax, colorbar=False, xticks_rotation="vertical", include_values=False)
    # Counts on the non-zero cells only, as ConfusionMatrixDisplay colours them (light
    # text on dark cells). A many-class matrix is mostly zeros, and a text on every cell
    # (3,364 for the speech recipe's 58 labels) made saving the figure take 10 s.
    colormap = display.im_.cmap
    dark, light = colormap(0.0), colormap(1.0)
    middle = matrix.max() / 2.0
    for row, column in zip(*np.nonzero(matrix)):
        count = matrix[row, column]
        color = dark if count >= middle else light
        ax.text(column, row, f"{count:d}", ha="center", va="center", color=color)
    if title:
        ax.set_title(title)
    figure.savefig(path, dpi=100)
    return matrix


def plot_training_curves(history, path):
    """Writes loss and every other metric per epoch, train vs dev, to a PNG.

    Args:
        history: `keras.callbacks.History.history`, a dict of lists
            (`loss`, `val_loss`, `accuracy`, `val_accuracy`, ...).
        path: PNG path.
    """
    from matplotlib.figure import Figure

    names = [name for name in history if not name.startswith("val_") and name != "learning_rate"]
    figure = Figure(figsize=(4.5 * len(names), 3.5), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", label="dev")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    figure.savefig(path, dpi=100)


def plot_token_weights(rows, path, max_tokens=60):
    """Writes one heatmap strip per example: the weight of each of its tokens.

    Args:
        rows: List of `(tokens, weights, title)`: the example's tokens
            (strings), their weights (same length, e.g. attention pooling's)
            and a caption.
        path: PNG path.
        max_tokens: Longer examples are cut to their first `max_tokens`.
    """
    from matplotlib.figure import Figure

    widest = max((min(len(tokens), max_tokens) for tokens, _, _ in rows), default=1)
    figure = Figure(
        figsize=(min(2.0 + 0.45 * widest, 30.0), 1.6 * max(len(rows), 1)), layout="constrained"
    )
    axes = np.atleast_1d(figure.subplots(max(len(rows), 1), 1))
    for ax, (tokens, weights, title) in zip(axes, rows):
        tokens = list(tokens)[:max_tokens]
        values = np.asarray(weights, dtype="float32")[: len(tokens)][None, :]
        top = float(values.max()) if values.size else 1.0
        ax.imshow(values, aspect="auto", cmap="Reds", vmin=0.0, vmax=top if top > 0 else 1.0)
        ax.set_xticks(range(len(tokens)), tokens, rotation=60, ha="right", fontsize=8)
        ax.set_yticks([])
        ax.set_title(title, fontsize=9, loc="left")
    figure.savefig(path, dpi=100)


class Phases:
    """Says what a long job is doing, and records how long each phase took.

    `with phases("baseline", "an MLP on 225,000 frames"):` prints
    `baseline: an MLP on 225,000 frames ...` when the phase starts and
    `baseline: 41.3 s` when it ends (unless `verbose` is 0), so a run is
    never silent for minutes; `seconds` (phase -> seconds) goes into
    `metrics.json` as `phase_seconds`.

    Args:
        verbose: The recipe's `verbose` (0: print nothing).
    """

    def __init__(self, verbose=1):
        self.verbose = verbose
        self.seconds = {}

    @contextlib.contextmanager
    def __call__(self, name, detail=None):
        if self.verbose:
            print(f"{name}: {detail} ..." if detail else f"{name} ...", flush=True)
        start = time.monotonic()
        yield
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - start, 1)
        if self.verbose:
            print(f"{name}: {self.seconds[name]} s", flush=True)


def print_data_notes(record, verbose=1):
    """Prints the data record's notes (how the splits were carved and why, what was
    skipped or ignored), one `data:` line each, unless `verbose` is 0."""
    if verbose:
        for note in record.get("notes", []):
            print(f"data: {note}", flush=True)


def training_summary(training):
    """One line for a command's report: epochs, seconds and why training stopped.

    Args:
        training: The `training` record of `metrics.json` (`restore_best`).
    """
    line = f"trained {training['epochs_run']} epochs in {training['seconds']} s"
    if training.get("best_epoch") is not None:
        line += f", best dev epoch {training['best_epoch']}"
    if training.get("stopped_because"):
        line += f" ({training['stopped_because']})"
    elif training.get("stopped_by_time_budget"):
        line += " (stopped by the time budget)"
    return line


def write_json(path, value):
    """Writes `value` as indented JSON; NaN / infinity become `null`."""

    def clean(item):
        if isinstance(item, dict):
            return {key: clean(entry) for key, entry in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(entry) for entry in item]
        if isinstance(item, float) and not math.isfinite(item):
            return None
        return item

    path.write_text(json.dumps(clean(value), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
