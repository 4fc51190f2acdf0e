"""The baseline the tagger must beat: a scikit-learn MLP on stacked frames.

Each frame is classified from itself and `context` frames on each side
(edges repeat the utterance's first / last frame), the classic hybrid
frame classifier. It sees the same normalized front-end features as the
tagger (the frames its recurrent layers read, before SpecAugment), so the
comparison measures what the recurrent model adds over a fixed window.
"""

import time

import numpy as np

from recipes.runner.reports import classification_metrics


def stack_context(frames, context):
    """`(frames, channels)` -> `(frames, (2 * context + 1) * channels)`, edges repeated."""
    count = frames.shape[0]
    offsets = np.arange(-context, context + 1)
    positions = np.clip(np.arange(count)[:, None] + offsets[None, :], 0, count - 1)
    return frames[positions].reshape(count, -1)


def stacked_split(features, frame_targets, context):
    """All frames of a split as `(inputs, targets)` arrays."""
    inputs = [stack_context(frames, context) for frames in features]
    return np.concatenate(inputs), np.concatenate(frame_targets)


def mlp_baseline(features, targets, labels, context, hidden, seed):
    """Trains the MLP on train frames and scores dev and test frames.

    Args:
        features: `{"train"|"dev"|"test": [(frames, channels) arrays]}`.
        targets: The same splits' frame label indices `[(frames,) arrays]`.
        labels: The label names.
        context: Frames stacked on each side.
        hidden: Units of each of the two hidden layers.
        seed: The MLP's seed.

    Returns:
        A dict: the model description, `dev` / `test` frame scores
        (`accuracy`, `macro_f1`, per-class), and the per-utterance frame
        predictions of test (`predictions`, not for JSON).
    """
    from sklearn.neural_network import MLPClassifier

    start = time.monotonic()
    train_x, train_y = stacked_split(features["train"], targets["train"], context)
    model = MLPClassifier(
        hidden_layer_sizes=(hidden, hidden),
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=5,
        max_iter=200,
        batch_size=256,
        random_state=seed,
    )
    model.fit(train_x, train_y)
    report = {
        "model": f"sklearn MLPClassifier({hidden}, {hidden}), relu, adam, early stopping",
        "input": f"+-{context} stacked frames ({train_x.shape[1]} values)",
        "train_frames": int(train_x.shape[0]),
        "epochs": int(model.n_iter_),
    }
    predictions = {}
    for name in ("dev", "test"):
        frames = [stack_context(f, context) for f in features[name]]
        predicted = [model.predict(x) for x in frames]
        predictions[name] = predicted
        flat_true = np.concatenate(targets[name])
        flat_predicted = np.concatenate(predicted)
        scores = classification_metrics(flat_true, flat_predicted, labels)
        report[name] = {
            "frame_accuracy": scores["accuracy"],
            "macro_f1": scores["macro_f1"],
            "frames": scores["examples"],
        }
    report["seconds"] = round(time.monotonic() - start, 1)
    return report, predictions
