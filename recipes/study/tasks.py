"""The two training tasks the study's experiments share: the adding problem and number agreement.

* The adding problem (`toolkit.data.adding_problem`, Hochreiter & Schmidhuber 1997 in the form
  of Le et al. 2015): `adding_model(cell, units)` is a toolkit recurrent layer named
  `"recurrent"` reading `(batch, time, 2)` sequences, its last output, then `Dense(1)`;
  `train_adding` fits it with Adam (gradient norm clipped) on fresh seeded batches, one per
  step, so no example repeats; `adding_mse` scores it. A model that learnt nothing predicts
  the mean, 1, with a mean squared error of `2 / 12 ~= 0.167` (`ADDING_BASELINE_MSE`); test
  MSE below `ADDING_SOLVED_MSE` (0.01) counts as solved.
* Number agreement (the text-classification recipe's bundled data,
  `recipes/data/number_agreement/sentences.csv`, Linzen et al. 2016): the words of a
  sentence up to its `[MASK]` (a replaced is / are / was / were), labelled singular or
  plural. As in Linzen et al.'s number prediction task the model reads only the prefix,
  so what it needs - the subject's number - lies steps back, sometimes across attractors.
  `load_number_agreement` tokenizes (lower case, words and single punctuation marks,
  `[mask]` one token; plain Python, so it runs on every backend), keeps the last
  `max_length` tokens of each prefix and maps them to ids from the training split's
  vocabulary (0 padding, 1 unknown). `text_model(cell, units)` is embedding (masked) ->
  toolkit recurrent layer `"recurrent"` (last output) -> softmax; `TokenBatches` feeds
  `model.fit` length-sorted, right-padded batches.
"""

import collections
import dataclasses
import functools
import pathlib
import re
import time

import keras
import numpy as np

import toolkit
from toolkit.data import adding_problem
from toolkit.data import without_autotuning

ADDING_BASELINE_MSE = 2.0 / 12.0
ADDING_SOLVED_MSE = 0.01
# Training batches use seeds `seed * TRAIN_SEED_STRIDE + step`; test sets use
# `TEST_SEED_OFFSET + seed`, far above any training seed.
TRAIN_SEED_STRIDE = 10_000_000
TEST_SEED_OFFSET = 2**40

NUMBER_AGREEMENT_CSV = (
    pathlib.Path(__file__).resolve().parents[1] / "data" / "number_agreement" / "sentences.csv"
)
MASK_TOKEN = "[mask]"
PAD_ID, UNKNOWN_ID = 0, 1
TOKEN_PATTERN = re.compile(r"\[mask\]|\w+|[^\w\s]")


# === Sizing ===


def closest_units(count, parameters, max_units=4096):
    """The units whose parameter count is closest to `parameters` (ties: fewer units).

    Args:
        count: `count(units) -> int`, the parameter count, increasing with `units`.
        parameters: Integer, the budget.
        max_units: Integer (default `4096`), where the doubling search stops.

    The count grows with the units: doubling from 1 brackets the budget, a bisection
    finds the first units at or above it, and the answer is those or one fewer. `count`
    is called for about `2 log2(units)` values, so it may build models.

    Example:

    >>> closest_units(lambda units: 3 * units * units, 100)  # 3 * 36 = 108 beats 75
    6
    """
    high = 1
    while count(high) < parameters and high < max_units:
        high *= 2
    low = high // 2 + 1 if high > 1 else 1
    while low < high:
        middle = (low + high) // 2
        if count(middle) >= parameters:
            high = middle
        else:
            low = middle + 1
    if low > 1 and abs(count(low - 1) - parameters) <= abs(count(low) - parameters):
        return low - 1
    return low


# === The adding problem ===


def adding_model(cell, units, name=None, **layer_kwargs):
    """`(batch, time, 2)` sequences -> `(batch, 1)` predicted sums.

    Args:
        cell: A name of `toolkit.layers.available()` (`"simple"`, `"lstm"`, `"gru"`, ...).
        units: Positive integer, the recurrent layer's units.
        name: Optional model name (default `"adding_<cell>"`).
        **layer_kwargs: Passed to the recurrent layer (e.g. `fused=False`).

    Returns:
        A functional `keras.Model` whose recurrent layer is named `"recurrent"` and whose
        head is `Dense(1)` named `"sum"`; any sequence length.
    """
    sequences = keras.Input((None, 2), name="sequences")
    recurrent = toolkit.layers.get(cell)(units, name="recurrent", **layer_kwargs)
    sums = keras.layers.Dense(1, name="sum")(recurrent(sequences))
    return keras.Model(sequences, sums, name=name or f"adding_{cell}")


class FreshBatches(keras.utils.PyDataset):
    """Training batches drawn anew for every step: step `s` uses seed `base + s`.

    Args:
        draw: A function `draw(num_examples, seed=...)` returning one `(inputs, targets)`
            batch, e.g. `functools.partial(adding_problem, length=50)` or a long-range
            task's `examples`.
        batch_size: Integer, the examples per batch.
        steps_per_epoch: Integer, the batches per epoch.
        seed: Integer; the batches use seeds `seed * TRAIN_SEED_STRIDE + step`, where `step`
            counts on across epochs, so no batch repeats and every run with the same seed
            sees the same data.
    """

    def __init__(self, draw, batch_size, steps_per_epoch, seed):
        super().__init__()
        self.draw = draw
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.base_seed = seed * TRAIN_SEED_STRIDE
        self.epoch = 0

    def __len__(self):
        return self.steps_per_epoch

    def __getitem__(self, index):
        step = self.epoch * self.steps_per_epoch + index
        return self.draw(self.batch_size, seed=self.base_seed + step)

    def on_epoch_end(self):
        self.epoch += 1


def train_adding(
    model,
    length,
    steps,
    batch_size=64,
    learning_rate=1e-2,
    clipnorm=1.0,
    seed=0,
    epochs=10,
    stop_below=None,
):
    """Fits an `adding_model` on fresh adding-problem batches with Adam.

    Args:
        model: A model from `adding_model` (compiled here).
        length: Integer, the training sequences' length.
        steps: Integer, the training steps at most (`steps // epochs` per epoch).
        batch_size: Integer (default `64`).
        learning_rate: Float (default `1e-2`), Adam's.
        clipnorm: Float (default `1.0`), the gradient norm clipped to per step
            (Pascanu et al., 2013).
        seed: Integer (default `0`), the seed of the training batches.
        epochs: Integer (default `10`), slices of `steps` (one training-loss value each).
        stop_below: Optional float: training stops after the first epoch whose mean
            training MSE is below it (the rest of the budget is not spent).

    Returns:
        A dict: `steps` run, `seconds` (`model.fit`, compilation included) and
        `train_loss` (the mean training MSE of each epoch).
    """
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm), loss="mse")
    epochs = max(1, min(epochs, steps))
    per_epoch = max(1, steps // epochs)
    callbacks = []
    if stop_below is not None:
        callbacks.append(_StopBelow(stop_below))
    start = time.perf_counter()
    history = model.fit(
        FreshBatches(functools.partial(adding_problem, length=length), batch_size, per_epoch, seed),
        epochs=epochs,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    losses = [float(value) for value in history.history["loss"]]
    return {"steps": per_epoch * len(losses), "seconds": seconds, "train_loss": losses}


class _StopBelow(keras.callbacks.Callback):
    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def on_epoch_end(self, epoch, logs=None):
        if logs and logs.get("loss", np.inf) < self.threshold:
            self.model.stop_training = True


def adding_test_set(num_examples, length, seed):
    """`(inputs, targets)` of the adding problem from a seed training never uses."""
    return adding_problem(num_examples, length, seed=TEST_SEED_OFFSET + seed)


def adding_mse(model, inputs, targets, batch_size=256):
    """The mean squared error of `model` on `(inputs, targets)`, in float64."""
    # Direct calls, not `model.predict`: a new model per run would retrace its function.
    predictions = np.concatenate(
        [
            keras.ops.convert_to_numpy(model(inputs[start : start + batch_size], training=False))
            for start in range(0, len(inputs), batch_size)
        ]
    )
    return float(np.mean((predictions.astype("float64") - targets) ** 2))


# === Number agreement ===


@dataclasses.dataclass
class NumberAgreement:
    """Tokenized number-agreement prefixes, ready for `TokenBatches`.

    Attributes:
        vocabulary: List of strings; index = token id (`""` padding, `"[UNK]"` unknown).
        classes: List of the label names, `["plural", "singular"]`.
        train_ids, test_ids: Lists of int32 arrays, one per sentence: the prefix's ids,
            ending with the `[mask]` token's.
        train_labels, test_labels: int32 arrays of class indices.
        train_tokens, test_tokens: Lists of lists of strings, the (cut) prefixes.
        record: JSON-serializable: the data file, split sizes and label counts, the
            vocabulary size, the prefix length cap and the median prefix length.
    """

    vocabulary: list
    classes: list
    train_ids: list
    train_labels: np.ndarray
    test_ids: list
    test_labels: np.ndarray
    train_tokens: list
    test_tokens: list
    record: dict


def tokenize(text):
    """Lower-cased words and single punctuation marks; `[MASK]` stays one token.

    Example:

    >>> tokenize("The dogs, I think, [MASK] barking.")
    ['the', 'dogs', ',', 'i', 'think', ',', '[mask]', 'barking', '.']
    """
    return TOKEN_PATTERN.findall(text.lower())


def mask_prefix(text, max_length):
    """The tokens of `text` up to and including its `[mask]`, the last `max_length` of them."""
    tokens = tokenize(text)
    if MASK_TOKEN not in tokens:
        raise ValueError(
            f"Argument `text` expected a sentence holding [MASK]. Received: text={text!r}"
        )
    prefix = tokens[: tokens.index(MASK_TOKEN) + 1]
    return prefix[-max_length:]


def load_number_agreement(
    max_length=40, max_tokens=8000, train_examples=None, test_examples=None, seed=0
):
    """The bundled number-agreement sentences as prefix token ids.

    Args:
        max_length: Integer (default `40`), tokens kept from the end of each prefix.
        max_tokens: Integer (default `8000`), the vocabulary size, padding and unknown
            included; the most frequent training tokens (ties by first appearance).
        train_examples: Optional integer, keep only the first this many training
            sentences (a smaller run).
        test_examples: Optional integer, the same for the test split.
        seed: Integer (default `0`), the seed of the stratified 80/10/10 split
            (`toolkit.data.load_text_splits`; the dev split is not used here).

    Returns:
        A `NumberAgreement`.
    """
    splits, split_record = toolkit.data.load_text_splits(NUMBER_AGREEMENT_CSV, seed=seed)
    train, test = splits["train"], splits["test"]
    train_texts, train_label_names = train.texts[:train_examples], train.labels[:train_examples]
    test_texts, test_label_names = test.texts[:test_examples], test.labels[:test_examples]
    classes = sorted(set(train.labels))
    train_tokens = [mask_prefix(text, max_length) for text in train_texts]
    test_tokens = [mask_prefix(text, max_length) for text in test_texts]

    counts = collections.Counter(token for tokens in train_tokens for token in tokens)
    vocabulary = ["", "[UNK]"] + [token for token, _ in counts.most_common(max_tokens - 2)]
    index = {token: position for position, token in enumerate(vocabulary)}

    def to_ids(tokens):
        return np.array([index.get(token, UNKNOWN_ID) for token in tokens], dtype="int32")

    def to_labels(names):
        return np.array([classes.index(name) for name in names], dtype="int32")

    record = {
        "source": str(NUMBER_AGREEMENT_CSV.relative_to(NUMBER_AGREEMENT_CSV.parents[3])),
        "split_seed": split_record["seed"],
        "train": len(train_tokens),
        "test": len(test_tokens),
        "train_label_counts": dict(collections.Counter(train_label_names)),
        "test_label_counts": dict(collections.Counter(test_label_names)),
        "vocabulary": len(vocabulary),
        "max_length": max_length,
        "median_prefix_length": float(np.median([len(tokens) for tokens in train_tokens])),
    }
    return NumberAgreement(
        vocabulary=vocabulary,
        classes=classes,
        train_ids=[to_ids(tokens) for tokens in train_tokens],
        train_labels=to_labels(train_label_names),
        test_ids=[to_ids(tokens) for tokens in test_tokens],
        test_labels=to_labels(test_label_names),
        train_tokens=train_tokens,
        test_tokens=test_tokens,
        record=record,
    )


def pad_ids(sequences, multiple=8):
    """Right-pads int32 id arrays with 0 to a common length, a multiple of `multiple`.

    Returns:
        An int32 array `(len(sequences), time)`.
    """
    longest = max(len(ids) for ids in sequences)
    width = max(multiple, -(-longest // multiple) * multiple)
    padded = np.zeros((len(sequences), width), dtype="int32")
    for row, ids in enumerate(sequences):
        padded[row, : len(ids)] = ids
    return padded


class TokenBatches:
    """Shuffled batches of id sequences, sorted by length within chunks, right-padded.

    Each epoch shuffles the examples (seeded by `seed` and the epoch), sorts them by
    length within chunks of `chunk_batches` batches, and shuffles the batches; a batch is
    padded to a multiple of `pad_multiple` steps (default 8), so few shapes are compiled.
    `dataset()` is the `tf.data.Dataset` that `model.fit` reads (every backend): its
    signature leaves the time axis open, which a `keras.utils.PyDataset` cannot promise -
    Keras fixes a PyDataset's shapes from its first two batches.
    """

    def __init__(self, sequences, labels, batch_size, seed, chunk_batches=16, pad_multiple=8):
        self.sequences = sequences
        self.labels = np.asarray(labels, dtype="int32")
        self.batch_size = batch_size
        self.seed = seed
        self.chunk_batches = chunk_batches
        self.pad_multiple = pad_multiple
        self.epoch = 0

    def epoch_batches(self, epoch):
        """The row indices of each batch of epoch `epoch`, in training order."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.sequences))
        chunk = self.batch_size * self.chunk_batches
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort([len(self.sequences[i]) for i in part], kind="stable")]
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __len__(self):
        full_chunks, rest = divmod(len(self.sequences), self.batch_size * self.chunk_batches)
        return full_chunks * self.chunk_batches + -(-rest // self.batch_size)

    def batch(self, rows):
        """`(ids (len(rows), time), labels (len(rows),))` of the given rows, padded."""
        return pad_ids([self.sequences[i] for i in rows], self.pad_multiple), self.labels[rows]

    def _generate(self):
        # Called once per epoch by tf.data; each call draws the next epoch's order.
        epoch, self.epoch = self.epoch, self.epoch + 1
        for rows in self.epoch_batches(epoch):
            yield self.batch(rows)

    def dataset(self):
        import tensorflow as tf

        signature = (
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None,), tf.int32),
        )
        dataset = tf.data.Dataset.from_generator(self._generate, output_signature=signature)
        return without_autotuning(dataset.apply(tf.data.experimental.assert_cardinality(len(self))))


def text_model(cell, units, vocabulary_size, class_count=2, embedding_dim=32, **layer_kwargs):
    """Token ids `(batch, time)` (0 = padding) -> class probabilities `(batch, class_count)`.

    Embedding (`mask_zero=True`) -> toolkit recurrent layer `"recurrent"` (its last valid
    output) -> `Dense(class_count, softmax)` named `"probabilities"`.
    """
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    embedded = keras.layers.Embedding(
        vocabulary_size, embedding_dim, mask_zero=True, name="embedding"
    )(token_ids)
    encoded = toolkit.layers.get(cell)(units, name="recurrent", **layer_kwargs)(embedded)
    probabilities = keras.layers.Dense(class_count, activation="softmax", name="probabilities")(
        encoded
    )
    return keras.Model(token_ids, probabilities, name=f"number_agreement_{cell}")


def train_text_model(
    model, data, epochs, batch_size=64, learning_rate=3e-3, seed=0, pad_multiple=8
):
    """Fits a `text_model` on `data`'s training prefixes with Adam; returns the fit record.

    Batches come from `TokenBatches` (`pad_multiple` as there).

    Returns:
        A dict: `epochs`, `seconds` (`model.fit`, compilation included), `train_loss` and
        `train_accuracy` per epoch.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(
        TokenBatches(
            data.train_ids, data.train_labels, batch_size, seed, pad_multiple=pad_multiple
        ).dataset(),
        epochs=epochs,
        shuffle=False,  # the batches shuffle themselves
        verbose=0,
    )
    return {
        "epochs": epochs,
        "seconds": time.perf_counter() - start,
        "train_loss": [float(value) for value in history.history["loss"]],
        "train_accuracy": [float(value) for value in history.history["accuracy"]],
    }


def predict_ids(model, sequences, batch_size=256, pad_multiple=8):
    """Class probabilities `(len(sequences), classes)` in input order (length-sorted batches)."""
    order = np.argsort([len(ids) for ids in sequences], kind="stable")
    outputs = [None] * len(sequences)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = pad_ids([sequences[i] for i in rows], pad_multiple)
        probabilities = keras.ops.convert_to_numpy(model(batch, training=False))
        for row, value in zip(rows, probabilities):
            outputs[row] = value
    return np.stack(outputs)


def text_accuracy(model, sequences, labels, batch_size=256, pad_multiple=8):
    """The fraction of `sequences` whose most probable class is its label."""
    predicted = predict_ids(model, sequences, batch_size, pad_multiple).argmax(axis=-1)
    return float(np.mean(predicted == np.asarray(labels)))
