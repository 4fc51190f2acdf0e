"""What every recipe's `model.fit` shares: strategy, precision, callbacks.

* `make_strategy(name)`: the `tf.distribute` strategy chosen by `--strategy`
  (`default`, `mirrored`, `multiworker` from `TF_CONFIG`).
* `set_precision(mixed)`: `--mixed-precision` (`mixed_float16` on GPU,
  `mixed_bfloat16` on CPU).
* `make_optimizer(config)`: Adam at the config's `learning_rate`, with
  `global_clipnorm` gradient clipping.
* `fit_callbacks(...)`: the learning-rate schedule over the training budget
  (`BudgetSchedule`), early stopping that a noisy dev split cannot fool
  while the training loss still falls (`PlateauStopping`) and
  best-checkpoint selection on the dev split, the wall-clock budget
  (`--max-train-minutes`), a guard that fails the run once the training
  loss is NaN or infinite, CSV and TensorBoard logs.
* `restore_best(model, callbacks)`: loads the best dev checkpoint after
  `fit`, whether training ended by patience, budget or the last epoch.
"""

import json
import math
import os
import pathlib
import time

import keras
import numpy as np

from recipes.runner.errors import UsageError
from toolkit.data.files import data_error

STRATEGIES = ("default", "mirrored", "multiworker")
LR_SCHEDULES = ("constant", "cosine", "stable-decay")
STABLE_DECAY_FRACTION = 0.3  # `stable-decay`: the last 30% of the budget decays the rate
BUDGET_EPOCHS = 100_000  # `epochs: null` under a time budget: the budget ends training


def make_strategy(name):
    """The `tf.distribute` strategy named by `--strategy`.

    Args:
        name: `"default"` (one device), `"mirrored"` (all local GPUs) or
            `"multiworker"` (`MultiWorkerMirroredStrategy`, cluster from the
            `TF_CONFIG` environment variable).

    Returns:
        A `tf.distribute.Strategy`; build and compile the model under its
        `scope()`.
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Argument `--strategy` expected one of {list(STRATEGIES)}. Received: {name!r}"
        )
    if keras.backend.backend() != "tensorflow":
        if name != "default":
            raise UsageError(
                f"Argument `--strategy {name}` needs the TensorFlow backend. "
                f"Received backend: {keras.backend.backend()}"
            )
        return None
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        _check_tf_config(os.environ.get("TF_CONFIG"))
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _check_tf_config(text):
    """Raises a `ValueError` naming `TF_CONFIG` unless it is unset or a JSON object
    (TensorFlow's own error was a bare `JSONDecodeError`)."""
    if text is None or not text.strip():
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        value = error
    if not isinstance(value, dict):
        raise ValueError(
            "The environment variable `TF_CONFIG` (read by `--strategy multiworker`) expected "
            'a JSON object such as {"cluster": {"worker": [...]}, "task": {"type": "worker", '
            f'"index": 0}}}}. Received: {text[:200]!r}'
        )


def set_precision(mixed):
    """Sets the global dtype policy; returns its name."""
    if not mixed:
        policy = "float32"
    else:
        gpus = []
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
        policy = "mixed_float16" if gpus else "mixed_bfloat16"
    keras.config.set_dtype_policy(policy)
    return policy


class DivergenceGuard(keras.callbacks.Callback):
    """Fails the run when the training loss is no longer finite.

    A loss of NaN or infinity (too high a learning rate, an overflow in
    float16) would otherwise train on, keep a model of NaNs and write every
    output as if the run had succeeded. Checked at the end of every epoch;
    the `RuntimeError` it raises ends `fit`, and the recipe's staged output
    folder is removed.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise RuntimeError(
                f"Training diverged: the training loss is {float(loss)} after epoch "
                f"{epoch + 1}. Lower `learning_rate` or use float32 (no mixed precision)."
            )


class WallClockBudget(keras.callbacks.Callback):
    """Stops training cleanly once `minutes` of wall-clock time have passed.

    Checked after every batch; the epoch in progress ends early, and the
    recipe goes on to evaluate and export as usual. `stopped` says whether
    the budget ended training; `seconds` is how long the last `fit` took.

    Args:
        minutes: Positive number, or `None` for no budget.
    """

    def __init__(self, minutes):
        super().__init__()
        if minutes is not None and (isinstance(minutes, bool) or minutes <= 0):
            raise ValueError(
                f"Argument `--max-train-minutes` expected a positive number. Received: {minutes!r}"
            )
        self.minutes = minutes
        self.stopped = False
        self.seconds = None
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()
        self.stopped = False

    def on_train_end(self, logs=None):
        self.seconds = time.monotonic() - self._start

    def on_train_batch_end(self, batch, logs=None):
        if self.minutes is None or self.stopped:
            return
        if time.monotonic() - self._start >= 60.0 * self.minutes:
            self.stopped = True
            self.model.stop_training = True


class BudgetSchedule(keras.callbacks.Callback):
    """Sets the learning rate over the training budget: warm-up, stable, then cosine decay.

    Training is given a budget - `epochs`, and optionally `minutes` of
    wall-clock time - and the rate follows the fraction of it spent so far,
    whichever limit is nearer; the last `decay_fraction` of the budget decays
    it (warmup-stable-decay; `decay_fraction=1` is a plain cosine decay):

    ```
    progress = max(epochs_done / epochs, seconds / (60 * minutes))   in [0, 1]
    t = max(0, progress - (1 - decay_fraction)) / decay_fraction
    rate = peak * min(1, (step + 1) / warmup_steps)
                * (floor + (1 - floor) * (1 + cos(pi * t)) / 2)
    ```

    So a run that is given more time trains longer at its peak rate and
    still ends at `floor * peak`, whichever limit ends it. A constant rate
    (Adam 2e-3 to the end) drifted upwards in loss late in the user runs of
    issue 27; a cosine decay over the whole budget left the bundled
    translation run, which an 8-minute budget gives 4 epochs on the 2-core
    machine, at dev BLEU 7.0 where the constant rate reached 10.2: an
    undertrained model needs its rate until the end is near. The rate is
    written when it moved by more than `tolerance` since it was last written
    (on the JAX backend each write syncs the training state, so not every
    batch), and logged as `learning_rate` each epoch.

    Args:
        epochs: Positive integer, the `epochs` passed to `fit`.
        minutes: Optional positive number, the wall-clock budget of `fit`.
        warmup_steps: Non-negative integer (default `50`): optimizer steps
            of the linear warm-up, at most one epoch's (a tiny corpus of 2
            batches an epoch would otherwise never reach the peak).
        floor: Float in [0, 1] (default `0.05`): the final rate as a
            fraction of the peak.
        tolerance: Float (default `0.01`): the rate is written when it moved
            by more than this fraction since it was last written.
        decay_fraction: Float in (0, 1] (default `1.0`): the last fraction
            of the budget over which the rate decays.
    """

    def __init__(
        self,
        epochs,
        minutes=None,
        warmup_steps=50,
        floor=0.05,
        tolerance=0.01,
        decay_fraction=1.0,
    ):
        super().__init__()
        self.epochs = epochs
        self.minutes = minutes
        self.warmup_steps = warmup_steps
        self.floor = floor
        self.tolerance = tolerance
        self.decay_fraction = decay_fraction
        self.scale = 1.0  # cut by `PlateauStopping` when the training loss stops falling
        self.peak = None
        self.last_rate = None  # the rate last written to the optimizer
        self._start = None
        self._epoch = 0
        self._step = 0
        self._steps_per_epoch = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()
        self._step = 0
        self.last_rate = None
        self.scale = 1.0
        self.peak = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        steps = (self.params or {}).get("steps")
        if steps:
            self._steps_per_epoch = steps

    def progress(self, batch=0):
        """The fraction of the budget spent, in [0, 1]."""
        within = 0.0
        if self._steps_per_epoch:
            within = min(1.0, batch / self._steps_per_epoch)
        spent = (self._epoch + within) / self.epochs
        if self.minutes is not None:
            spent = max(spent, (time.monotonic() - self._start) / (60.0 * self.minutes))
        return min(1.0, spent)

    def rate(self, progress, step):
        """The learning rate at `progress` of the budget and optimizer step `step`."""
        steps = self.warmup_steps
        if self._steps_per_epoch:
            steps = min(steps, self._steps_per_epoch)
        warmup = min(1.0, (step + 1) / steps) if steps else 1.0
        decayed = max(0.0, progress - (1.0 - self.decay_fraction)) / self.decay_fraction
        cosine = (1.0 + math.cos(math.pi * decayed)) / 2.0
        return self.scale * self.peak * warmup * (self.floor + (1.0 - self.floor) * cosine)

    def on_train_batch_begin(self, batch, logs=None):
        value = self.rate(self.progress(batch), self._step)
        self._step += 1
        if (
            self.last_rate is not None
            and abs(value - self.last_rate) <= self.tolerance * self.last_rate
        ):
            return
        # On JAX, reading `self.model` syncs the state the trainer carries
        # between steps (Keras' Callback.model), so the new rate is used.
        self.model.optimizer.learning_rate = value
        self.last_rate = value

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.last_rate is not None:
            logs["learning_rate"] = self.last_rate


class PlateauStopping(keras.callbacks.Callback):
    """Early stopping that a noisy dev split cannot fool while training still learns.

    Nothing stops training while the dev metric (`monitor`) trends the right
    way: the mean of its last `patience` epochs better than the mean of the
    `patience` before. Otherwise, once the dev metric has not beaten its best
    for `patience` epochs, training stops when

    * the training loss fell by less than `loss_drop` (relative) over those
      epochs: training has converged at its learning rate - with a
      `schedule`, the rate is first cut (`cut_factor`, at most `cuts` times,
      each followed by `patience` epochs to show what it gives), and training
      stops at the next such plateau, or
    * the dev loss (`val_loss`) stayed more than `loss_rise` (relative) above
      its best for each of those epochs: the model overfits.

    A dev metric that is merely stale while the training loss falls steeply
    and the dev loss holds does not stop training: the time budget, the
    epochs or one of the rules above will. On a small or one-speaker dev
    split the dev metric can peak early by chance while the model still
    learns: Keras' `EarlyStopping` ended a user's 15-minute speech run after
    50 s with the training loss still falling, a 2-minute text run on 1,344
    examples after 13 s while dev accuracy climbed back towards a lucky early
    spike, and a rule "stale for 3x patience" still ended a 3-minute run on
    36 utterances (dev: 6 utterances of one voice) after 37 s. The best dev
    epoch is the one restored (`BestCheckpoint`), so training on costs time,
    not quality. `reason` says why it stopped (`None` while it has not).

    Args:
        monitor: The dev metric in the epoch logs.
        mode: `"min"` or `"max"` for `monitor`.
        patience: Non-negative integer, epochs without a dev improvement
            (0 acts as 1).
        loss_drop: Float (default `0.03`): a training loss that fell by
            this fraction or more over the last `patience` epochs is still
            falling steeply.
        loss_rise: Float (default `0.1`): a dev loss this fraction above its
            best is clearly worse.
        schedule: Optional `BudgetSchedule` whose rate a plateau cuts.
        cuts: Non-negative integer (default `2`), the most cuts of the rate.
        cut_factor: Float in (0, 1) (default `0.3`), what a cut multiplies
            the rate by.
    """

    def __init__(
        self,
        monitor,
        mode,
        patience,
        loss_drop=0.03,
        loss_rise=0.1,
        schedule=None,
        cuts=2,
        cut_factor=0.3,
    ):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"Argument `mode` expected 'min' or 'max'. Received: {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.patience = max(1, patience)
        self.loss_drop = loss_drop
        self.loss_rise = loss_rise
        self.schedule = schedule
        self.cuts = cuts
        self.cut_factor = cut_factor
        self.reason = None
        self.cut_epochs = []  # 1-based epochs after which the rate was cut
        self._scores = []  # the monitor, larger is better (NaN: not logged)
        self._losses = []
        self._dev_losses = []

    def on_train_begin(self, logs=None):
        self.reason = None
        self.cut_epochs = []
        self._scores = []
        self._losses = []
        self._dev_losses = []

    def _cut_rate(self, epoch):
        """Cuts the schedule's rate if it may; whether it did."""
        if self.schedule is None or len(self.cut_epochs) >= self.cuts:
            return False
        self.schedule.scale *= self.cut_factor
        self.cut_epochs.append(epoch + 1)
        return True

    def _trending_up(self):
        """Whether the last `patience` scores beat the `patience` before, on average."""
        recent = self._scores[-self.patience :]
        before = self._scores[-2 * self.patience : -self.patience]
        if len(before) < self.patience:
            return True
        return float(np.mean(recent)) > float(np.mean(before))  # NaN: not trending

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._losses.append(_finite_or_nan(logs.get("loss")))
        self._dev_losses.append(_finite_or_nan(logs.get("val_loss")))
        value = _finite_or_nan(logs.get(self.monitor))
        self._scores.append(value if self.mode == "max" else -value)
        if not any(math.isfinite(score) for score in self._scores):
            return
        best_epoch = int(np.nanargmax(self._scores))
        stale = epoch - best_epoch
        if stale < self.patience or self._trending_up():
            return
        if self.cut_epochs and epoch + 1 - self.cut_epochs[-1] < self.patience:
            return  # the last cut has not had its `patience` epochs yet
        stalled = (
            f"early stopping: dev {self.monitor} has not improved for {stale} epoch(s) "
            f"(best at epoch {best_epoch + 1})"
        )
        window = self._losses[-self.patience - 1 :]
        drop = (window[0] - window[-1]) / abs(window[0]) if window[0] else 0.0
        converged = not drop >= self.loss_drop  # NaN counts as not falling
        best_dev_loss = min((v for v in self._dev_losses if math.isfinite(v)), default=None)
        recent = self._dev_losses[-self.patience :]
        if converged:
            if self._cut_rate(epoch):
                return
            self.reason = (
                f"{stalled} and the training loss fell {100 * drop:.1f}% over the last "
                f"{self.patience} (less than {100 * self.loss_drop:.0f}%)"
            )
            if self.cut_epochs:
                self.reason += f", after learning-rate cuts at epochs {self.cut_epochs}"
        elif best_dev_loss is not None and all(
            v > (1.0 + self.loss_rise) * best_dev_loss for v in recent
        ):
            self.reason = (
                f"{stalled} and the dev loss stayed over {100 * self.loss_rise:.0f}% above "
                f"its best ({best_dev_loss:.4g}) for {self.patience} epoch(s)"
            )
        if self.reason is not None:
            self.model.stop_training = True


def _finite_or_nan(value):
    """`value` as a float, NaN for `None` (not logged)."""
    return math.nan if value is None else float(value)


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the weights of the best epoch on the dev split (`monitor`).

    Each new best epoch's weights are copied to host memory; the file is
    written once, when `fit` ends (writing it at every new best epoch cost
    about 0.13 s a time for a tiny model: 6 s of a 45-second run that
    improved 50 times). The model keeps its last epoch's weights until
    `restore_best` loads the file.

    Args:
        path: The `.weights.h5` file of the best epoch, written at the end
            of `fit` (none when no epoch logged a finite `monitor`).
        monitor: The dev metric in the epoch logs (`"val_loss"`, ...).
        mode: `"min"` or `"max"` for `monitor`.
        tie_breaker: Optional `(metric, mode)` that decides between epochs
            whose `monitor` is equal, e.g. `("val_loss", "min")` under a
            BLEU that saturates: a later epoch with the same BLEU and a lower
            loss replaces the earlier one.
    """

    def __init__(self, path, monitor, mode, tie_breaker=None):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"Argument `mode` expected 'min' or 'max'. Received: {mode!r}")
        self.path = pathlib.Path(path)
        self.monitor = monitor
        self.best_mode = mode
        self.tie_breaker = tie_breaker
        self.best = None
        self.best_epoch = None  # 1-based, once an epoch logged a finite `monitor`
        self._best_weights = None

    def on_train_begin(self, logs=None):
        self.best = None
        self.best_epoch = None
        self._best_weights = None

    def _key(self, logs):
        """The epoch's score as a tuple where larger is better (`None`: not logged)."""
        keys = [(self.monitor, self.best_mode)]
        if self.tie_breaker is not None:
            keys.append(tuple(self.tie_breaker))
        values = []
        for name, mode in keys:
            value = (logs or {}).get(name)
            if value is None or not np.isfinite(value):
                return None
            values.append(float(value) if mode == "max" else -float(value))
        return tuple(values)

    def on_epoch_end(self, epoch, logs=None):
        key = self._key(logs)
        if key is not None and (self.best is None or key > self.best):
            self.best = key
            self.best_epoch = epoch + 1
            self._best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self._best_weights is None:
            return
        last = self.model.get_weights()
        self.model.set_weights(self._best_weights)
        self.model.save_weights(str(self.path), overwrite=True)
        self.model.set_weights(last)
        self._best_weights = None


def planned_epochs(config):
    """The `epochs` to pass to `fit` for a recipe's config.

    An explicit `epochs` is the limit. `epochs: null` (the recipes' default)
    means the config class's `EPOCHS_WITHOUT_BUDGET` when no
    `max_train_minutes` is given, and otherwise no epoch limit
    (`BUDGET_EPOCHS`): the time budget, with the learning-rate schedule over
    it, and early stopping end training. A fixed epoch count tuned on one
    corpus ended a user's run on a small corpus after 22 s of a 2-minute
    budget, undertrained.
    """
    if config.epochs is not None:
        return config.epochs
    if config.max_train_minutes is None:
        return type(config).EPOCHS_WITHOUT_BUDGET
    return BUDGET_EPOCHS


def make_optimizer(config):
    """The Adam optimizer of a recipe's config.

    `learning_rate` is the peak of the schedule; `global_clipnorm` clips the
    gradients' global norm so that one bad batch cannot throw training off
    (`None`: no clipping). A config's per-variable `clipnorm`, where it has
    one and sets it, is used instead (Keras takes one of the two).
    """
    clipnorm = getattr(config, "clipnorm", None)
    if clipnorm is not None:
        return keras.optimizers.Adam(config.learning_rate, clipnorm=clipnorm)
    return keras.optimizers.Adam(config.learning_rate, global_clipnorm=config.global_clipnorm)


def fit_callbacks(
    log_dir,
    monitor="val_loss",
    mode="min",
    patience=3,
    max_train_minutes=None,
    tie_breaker=None,
    epochs=None,
    lr_schedule="constant",
):
    """The callbacks every recipe passes to `model.fit`.

    Args:
        log_dir: Folder for `training_log.csv`, `tensorboard/` and the best
            checkpoint.
        monitor: Dev metric that selects the best epoch (default
            `"val_loss"`).
        mode: `"min"` or `"max"` for `monitor`.
        patience: Epochs without a dev improvement before early stopping
            (`PlateauStopping`: not while dev trends up or the training loss
            still falls steeply; a plateau of the training loss first cuts
            the schedule's rate, twice), or `None` to train every epoch.
        max_train_minutes: Optional wall-clock budget for `fit`.
        tie_breaker: Optional `(metric, mode)` deciding between epochs of
            equal `monitor` (see `BestCheckpoint`).
        epochs: The `epochs` passed to `fit`; needed by a schedule.
        lr_schedule: `"constant"` (default: the optimizer's rate throughout),
            `"stable-decay"` (`BudgetSchedule` over `epochs` and
            `max_train_minutes`: warm-up, the peak rate, a cosine decay over
            the last 30%) or `"cosine"` (the decay over the whole budget).

    Returns:
        A list of callbacks; pass it to `restore_best` after `fit`.
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(
            f"Argument `lr_schedule` expected one of {list(LR_SCHEDULES)}. "
            f"Received: {lr_schedule!r}"
        )
    if lr_schedule != "constant" and epochs is None:
        raise ValueError(
            f"Argument `epochs` is needed by lr_schedule={lr_schedule!r}. Received: None"
        )
    log_dir = pathlib.Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    callbacks = [
        BestCheckpoint(
            log_dir / "best.weights.h5", monitor=monitor, mode=mode, tie_breaker=tie_breaker
        ),
        WallClockBudget(max_train_minutes),
        DivergenceGuard(),
    ]
    schedule = None
    if lr_schedule != "constant":
        fraction = STABLE_DECAY_FRACTION if lr_schedule == "stable-decay" else 1.0
        schedule = BudgetSchedule(epochs, max_train_minutes, decay_fraction=fraction)
        callbacks.append(schedule)
    if patience is not None:
        callbacks.append(
            PlateauStopping(monitor=monitor, mode=mode, patience=patience, schedule=schedule)
        )
    # The loggers last: they see the `learning_rate` the schedule logs.
    callbacks += [
        keras.callbacks.CSVLogger(str(log_dir / "training_log.csv")),
        keras.callbacks.TensorBoard(str(log_dir / "tensorboard"), write_graph=False),
    ]
    return callbacks


def restore_best(model, callbacks, history=None):
    """Loads the best dev checkpoint written during `fit`, if any.

    Args:
        model: The model `fit` trained.
        callbacks: The list from `fit_callbacks`.
        history: Optional `History.history` dict of that `fit`; with it the
            report also gives `epochs_run`, and the checkpoint's dev metric
            (`monitor`) with its `best_epoch` and `best_value`.

    Returns:
        A dict for the metrics report: whether the budget stopped training,
        `stopped_because` (the time budget, early stopping and its reason,
        or the last epoch), whether a best checkpoint was restored, the
        seconds `fit` took, the learning-rate schedule's `peak_learning_rate`
        and `final_learning_rate` (plus the epochs, with `history`).
    """
    report = {"stopped_by_time_budget": False, "restored_best_checkpoint": False}
    best = None
    reasons = []
    epochs = None
    for callback in callbacks:
        epochs = (getattr(callback, "params", None) or {}).get("epochs", epochs)
        if isinstance(callback, WallClockBudget):
            report["stopped_by_time_budget"] = callback.stopped
            if callback.seconds is not None:
                report["seconds"] = round(callback.seconds, 1)
            if callback.stopped:
                reasons.append(f"time budget: max_train_minutes={callback.minutes} reached")
        if isinstance(callback, PlateauStopping):
            if callback.reason is not None:
                reasons.append(callback.reason)
            if callback.cut_epochs:
                report["learning_rate_cuts_after_epochs"] = callback.cut_epochs
        if isinstance(callback, BudgetSchedule) and callback.peak is not None:
            report["learning_rate_schedule"] = (
                "cosine" if callback.decay_fraction == 1.0 else "stable-decay"
            )
            report["peak_learning_rate"] = callback.peak
            report["final_learning_rate"] = callback.last_rate
        if isinstance(callback, BestCheckpoint):
            best = callback
            if callback.path.exists():
                model.load_weights(str(callback.path))
                report["restored_best_checkpoint"] = True
    if history is not None:
        report["epochs_run"] = len(history.get("loss", []))
        if not reasons and epochs is not None and report["epochs_run"] >= epochs:
            reasons.append(f"completed all epochs={epochs}")
        values = history.get(best.monitor) if best is not None else None
        if values and best.best_epoch is not None:
            report["monitor"] = best.monitor
            report["best_epoch"] = best.best_epoch
            report["best_value"] = float(values[best.best_epoch - 1])
    if reasons:
        report["stopped_because"] = "; ".join(reasons)
    elif history is not None:
        report["stopped_because"] = f"stopped after epoch {report['epochs_run']} of {epochs}"
    return report


def check_evaluation_splits(splits, config, source):
    """Dev picks the best epoch and test is scored: both must hold examples.

    Raises a `DataError` naming `source` (the data) otherwise.
    """
    for name in ("dev", "test"):
        if not len(splits[name]):
            raise data_error(
                source,
                None,
                f"the {name} split is empty; the recipe selects the best epoch on dev and "
                f"reports on test. Received: {name}_fraction="
                f"{getattr(config, name + '_fraction')!r}",
            )


def check_training_labels(labels, source):
    """A classifier or tagger needs two labels in its training split; a `DataError` if not."""
    if len(labels) < 2:
        raise data_error(
            source,
            None,
            f"expected at least two labels in the training split. Received: {list(labels)}",
        )
