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


def mlp_baseline(features, targets, labels, context, hidden, seed, max_seconds=None):
    """Trains the MLP on train frames and scores dev and test frames.

    The MLP (scikit-learn, Adam, batches of 256) trains epoch by epoch
    (`partial_fit`) on 90% of the train frames and keeps the epoch that
    scores best on the other 10%, stopping after 5 epochs without
    improvement, 200 epochs, or `max_seconds`: on 900 utterances its
    unbounded training took 712 s, longer than the tagger's own.

    Args:
        features: `{"train"|"dev"|"test": [(frames, channels) arrays]}`.
        targets: The same splits' frame label indices `[(frames,) arrays]`.
        labels: The label names.
        context: Frames stacked on each side.
        hidden: Units of each of the two hidden layers.
        seed: The MLP's seed.
        max_seconds: Optional positive number, the training time limit
            (checked after each epoch; at least one epoch runs).

    Returns:
        A dict: the model description, `dev` / `test` frame scores
        (`accuracy`, `macro_f1`, per-class), the epochs, why training
        stopped and the seconds, and the per-utterance frame predictions of
        test (`predictions`, not for JSON).
    """
    import copy

    from sklearn.neural_network import MLPClassifier

    start = time.monotonic()
    inputs, outputs = stacked_split(features["train"], targets["train"], context)
    order = np.random.default_rng(seed).permutation(len(outputs))
    held = order[: max(1, len(order) // 10)]
    kept = order[len(held) :]
    model = MLPClassifier(
        hidden_layer_sizes=(hidden, hidden), batch_size=256, random_state=seed, shuffle=True
    )
    classes = np.arange(len(labels))
    best, best_state, stale, epochs = -1.0, None, 0, 0
    stopped = "200 epochs"
    while epochs < 200:
        epochs += 1
        model.partial_fit(inputs[kept], outputs[kept], classes=classes)
        score = model.score(inputs[held], outputs[held])
        if score > best:
            best, stale = score, 0
            best_state = copy.deepcopy((model.coefs_, model.intercepts_))
        else:
            stale += 1
        if stale >= 5:
            stopped = "no improvement on held-out train frames for 5 epochs"
            break
        if max_seconds is not None and time.monotonic() - start >= max_seconds:
            stopped = f"time limit ({max_seconds:.0f} s, the tagger's training time)"
            break
    model.coefs_, model.intercepts_ = best_state
    report = {
        "model": f"sklearn MLPClassifier({hidden}, {hidden}), relu, adam, early stopping",
        "input": f"+-{context} stacked frames ({inputs.shape[1]} values)",
        "train_frames": int(len(kept)),
        "epochs": epochs,
        "stopped_because": stopped,
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
