"""Utterances -> padded batches for `fit`, `predict` and the reports.

A corpus is small enough to hold in memory: each utterance becomes an
`Example` (its signal, its frame label indices at the model's output rate,
and its reference label sequence), and batches are padded in NumPy:

* waveforms are padded so the frame count is a multiple of `PAD_FRAMES`
  output frames (few shapes to compile; the padding is masked and changes no
  result); samples past the last whole frame are dropped, as framing would;
* `targets` are label indices per output frame and `weights` the frame mask
  (framewise mode: the loss over padded frames is masked explicitly), or, in
  CTC mode, class indices `1..labels` of the label sequence padded with -1;
* training batches hold utterances of similar length (sorted within chunks
  of `SORT_CHUNK` batches) in a new seeded order every epoch.
"""

import dataclasses

import numpy as np

from toolkit.data import frame_count
from toolkit.data import frame_labels
from toolkit.data import without_autotuning

PAD_FRAMES = 16  # output frames per padding step
UNSEEN = -1  # the index of a dev / test label that training never has
UNSEEN_NAME = "<unseen>"  # how plots name it
SORT_CHUNK = 16  # batches per chunk sorted by length


@dataclasses.dataclass
class Example:
    """One utterance as the model sees it.

    Attributes:
        id: The utterance id (its path in the corpus, without suffix).
        signal: float32 `(samples,)` waveform or `(frames, channels)` features.
        length: Valid samples (waveform) or frames (features).
        frames: int32 label index of each output frame `(output_frames,)`;
            `UNSEEN` (-1) for a label the training split never has (in dev or
            test only: no loss, and a scoring error, since the model cannot
            output it).
        sequence: The reference labels in order, repeats merged (what the
            phone error rate compares with).
        sequence_ids: int32 label indices of `sequence` `(labels,)`, `UNSEEN`
            as in `frames`.
    """

    id: str
    signal: np.ndarray
    length: int
    frames: np.ndarray
    sequence: list
    sequence_ids: np.ndarray


def merge_repeats(labels):
    """`labels` with runs of equal neighbours merged: `a a b a` -> `a b a`."""
    merged = []
    for label in labels:
        if not merged or merged[-1] != label:
            merged.append(label)
    return merged


def label_inventory(corpus):
    """The sorted labels of a (training) corpus."""
    labels = set()
    for utterance in corpus.utterances:
        if _is_features(utterance):
            labels.update(str(label) for label in utterance.frame_labels)
        else:
            labels.update(label for _, _, label in utterance.segments)
    return sorted(labels)


def encode_corpus(corpus, labels, config, split_name):
    """The `Example`s of a corpus.

    A label missing from `labels` (train's) is an error in the training
    split; in dev and test it gets the index `UNSEEN`: a rare phone that only
    a test speaker says does not stop the run, its frames carry no dev loss
    and count as errors (the record's `unseen_labels` lists them).
    """
    index = {label: position for position, label in enumerate(labels)}
    examples = []
    for utterance in corpus.utterances:
        if _is_features(utterance):
            signal = np.asarray(utterance.features, dtype="float32")
            length = signal.shape[0]
            names = [str(label) for label in utterance.frame_labels]
            sequence = merge_repeats(names)
        else:
            signal = np.asarray(utterance.waveform, dtype="float32")
            length = signal.shape[0]
            names = [
                str(label)
                for label in frame_labels(
                    utterance.segments, length, config.frame_length, config.frame_step
                )
            ]
            sequence = merge_repeats(label for _, _, label in utterance.segments)
        unknown = sorted(set(names + sequence) - set(index))
        if unknown and split_name == "train":
            raise ValueError(
                f"The {split_name} split's utterance {utterance.id!r} has labels the training "
                f"split does not: {unknown}. Received labels of training: {labels}"
            )
        frames = np.array([index.get(name, UNSEEN) for name in names], dtype="int32")
        sequence_ids = np.array([index.get(name, UNSEEN) for name in sequence], dtype="int32")
        examples.append(
            Example(utterance.id, signal, length, frames[:: config.stride], sequence, sequence_ids)
        )
    return examples


def label_names(labels, ids):
    """The names of label indices, `UNSEEN_NAME` for `UNSEEN`."""
    return [labels[i] if i != UNSEEN else UNSEEN_NAME for i in ids]


def padded_batch(examples, config, waveform):
    """Model inputs (a dict) of a list of examples, and the output frame count."""
    stride = config.stride
    most = max(_input_frames(example, config, waveform) for example in examples)
    output_frames = max(-(-most // stride), 1)
    output_frames = -(-output_frames // PAD_FRAMES) * PAD_FRAMES
    input_frames = output_frames * stride
    if waveform:
        size = (input_frames - 1) * config.frame_step + config.frame_length
        signals = np.zeros((len(examples), size), dtype="float32")
    else:
        channels = examples[0].signal.shape[1]
        signals = np.zeros((len(examples), input_frames, channels), dtype="float32")
    for row, example in enumerate(examples):
        valid = example.signal[: signals.shape[1]]
        signals[row, : len(valid)] = valid
    lengths = np.array([example.length for example in examples], dtype="int32")
    name = "waveform" if waveform else "features"
    return {name: signals, "lengths": lengths}, output_frames


def training_batch(examples, config, waveform):
    """`(inputs, targets, weights)` (framewise) or `(inputs, targets)` (CTC)."""
    inputs, output_frames = padded_batch(examples, config, waveform)
    if config.mode == "ctc":
        longest = max(max(len(example.sequence_ids), 1) for example in examples)
        targets = np.full((len(examples), longest), -1, dtype="int32")
        for row, example in enumerate(examples):
            # Class 0 is the CTC blank: label i is class i + 1. Unseen labels
            # (dev / test only) are left out of the dev loss's targets.
            ids = example.sequence_ids[example.sequence_ids != UNSEEN]
            targets[row, : len(ids)] = ids + 1
        return inputs, targets
    targets = np.zeros((len(examples), output_frames), dtype="int32")
    weights = np.zeros((len(examples), output_frames), dtype="float32")
    for row, example in enumerate(examples):
        seen = example.frames != UNSEEN
        targets[row, : len(example.frames)] = np.where(seen, example.frames, 0)
        weights[row, : len(example.frames)] = seen
    return inputs, targets, weights


def batch_order(examples, batch_size, rng=None):
    """Batches as lists of example positions.

    Without `rng`, the examples' own order (for evaluation); with it, a
    shuffle, then length-sorted batches within chunks, in shuffled order.
    """
    positions = np.arange(len(examples))
    if rng is None:
        return [positions[i : i + batch_size] for i in range(0, len(positions), batch_size)]
    rng.shuffle(positions)
    chunk = batch_size * SORT_CHUNK
    batches = []
    for start in range(0, len(positions), chunk):
        part = positions[start : start + chunk]
        part = part[np.argsort([examples[i].length for i in part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def dataset(examples, config, waveform, training):
    """A `tf.data.Dataset` of training batches (a new seeded order each epoch)."""
    import tensorflow as tf

    rng = np.random.default_rng(config.seed) if training else None
    first = training_batch(examples[:1], config, waveform)

    def generate():
        for positions in batch_order(examples, config.batch_size, rng):
            yield training_batch([examples[i] for i in positions], config, waveform)

    def spec(value, name=None):
        if isinstance(value, dict):
            return {key: spec(item, key) for key, item in value.items()}
        shape = (None,) * value.ndim
        if name == "features":  # the channels are fixed: layers size their weights by them
            shape = shape[:-1] + value.shape[-1:]
        return tf.TensorSpec(shape, tf.as_dtype(value.dtype))

    signature = tuple(spec(value) for value in first)
    batches = len(batch_order(examples, config.batch_size))
    data = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return without_autotuning(
        data.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)
    )


def predict(tagger, examples, config, waveform, batch_size=None):
    """The tagger's outputs per example, each cut to its valid output frames."""
    batch_size = batch_size or config.batch_size
    outputs = []
    for positions in batch_order(examples, batch_size):
        batch = [examples[i] for i in positions]
        inputs, _ = padded_batch(batch, config, waveform)
        values = np.asarray(tagger.predict_on_batch(inputs))
        for row, example in enumerate(batch):
            outputs.append(values[row, : output_length(example, config, waveform)])
    return outputs


def output_length(example, config, waveform):
    """Valid output frames of an example."""
    return -(-_input_frames(example, config, waveform) // config.stride)


def _input_frames(example, config, waveform):
    if waveform:
        return frame_count(example.length, config.frame_length, config.frame_step)
    return example.length


def _is_features(utterance):
    return getattr(utterance, "features", None) is not None
