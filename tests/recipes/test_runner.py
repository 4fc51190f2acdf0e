"""The shared recipe runner: configs, output folders, callbacks, strategies and command
lines."""

import argparse
import dataclasses
import pathlib

import keras
import numpy as np
import pytest

from recipes.runner import ConfigError
from recipes.runner import WallClockBudget
from recipes.runner import cli
from recipes.runner import config_to_dict
from recipes.runner import fit_callbacks
from recipes.runner import load_config
from recipes.runner import make_strategy
from recipes.runner import restore_best
from recipes.runner import staged_output
from recipes.runner.outputs import OUTPUT_MARKER
from recipes.runner.reports import Phases
from recipes.runner.reports import plot_confusion_matrix
from recipes.runner.training import BUDGET_EPOCHS
from recipes.runner.training import BestCheckpoint
from recipes.runner.training import BudgetSchedule
from recipes.runner.training import PlateauStopping
from recipes.runner.training import make_optimizer
from recipes.runner.training import planned_epochs


@dataclasses.dataclass
class Config:
    cell: str = "lstm"
    units: int = 8
    learning_rate: float = 1e-3
    bidirectional: bool = True
    layers: tuple[int, ...] = (8,)
    max_minutes: float | None = None


# === Config ===


def test_defaults_preset_then_overrides_in_order(tmp_path):
    preset = tmp_path / "small.yaml"
    preset.write_text("units: 4\nlayers: [4, 4]\nlearning_rate: 1\n")

    config = load_config(
        Config, preset, ["units=16", "cell=gru", "bidirectional=false", "max_minutes=2.5"]
    )

    assert config == Config(
        cell="gru",
        units=16,
        learning_rate=1.0,
        bidirectional=False,
        layers=(4, 4),
        max_minutes=2.5,
    )
    assert config_to_dict(config)["layers"] == [4, 4]


def test_overrides_parse_lists_nulls_and_keep_strings_as_text():
    config = load_config(Config, None, ["layers=3,5", "max_minutes=null", "cell=true"])
    assert config.layers == (3, 5)
    assert config.max_minutes is None
    assert config.cell == "true"  # a str field takes the text as is


def test_a_choice_named_none_stays_text_where_null_is_not_allowed():
    # Regression: `--set attention=none` became null and failed the `str` check.
    assert load_config(Config, None, ["cell=none"]).cell == "none"
    assert load_config(Config, None, ["max_minutes=none"]).max_minutes is None


def test_floats_in_exponent_notation_are_numbers(tmp_path):
    # Regression: PyYAML reads `2e-3` (no dot) as a string, and
    # `--set learning_rate=2e-3` was rejected.
    assert load_config(Config, None, ["learning_rate=2e-3"]).learning_rate == 0.002
    preset = tmp_path / "p.yaml"
    preset.write_text("learning_rate: 5e-4\n")
    assert load_config(Config, preset).learning_rate == 0.0005


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["depth=3"], r"Unknown config key `depth` \(--set depth=3\)"),
        (["units=many"], r"`units` expected an integer \(--set units=many\). Received: 'many'"),
        (["units=2.5"], r"`units` expected an integer"),
        (["bidirectional=maybe"], r"`bidirectional` expected a boolean"),
        (["learning_rate=fast"], r"`learning_rate` expected a finite number"),
        # inf used to pass, and trained a model of NaNs that passed every check
        (["learning_rate=inf"], r"`learning_rate` expected a finite number.*Received: 'inf'"),
        (["learning_rate=.inf"], r"`learning_rate` expected a finite number.*Received: inf"),
        (["learning_rate=nan"], r"`learning_rate` expected a finite number.*Received: 'nan'"),
        (["layers=a,b"], r"`layers` expected a list of an integer"),
        (["units"], r"expected key=value"),
    ],
)
def test_bad_overrides_are_rejected_with_the_key_and_value(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Config, None, overrides)


def test_bad_presets_name_the_file(tmp_path):
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("units: 3\nwidth: 2\n")
    with pytest.raises(ConfigError, match=r"Unknown config key `width` \(preset .*unknown.yaml"):
        load_config(Config, unknown)
    listing = tmp_path / "list.yaml"
    listing.write_text("- units\n")
    with pytest.raises(ConfigError, match=r"list.yaml must be a mapping"):
        load_config(Config, listing)
    with pytest.raises(ConfigError, match="Preset file not found"):
        load_config(Config, tmp_path / "missing.yaml")
    wrong_type = tmp_path / "wrong.yaml"
    wrong_type.write_text("units: '3'\n")
    with pytest.raises(ConfigError, match=r"`units` expected an integer \(preset .*wrong.yaml"):
        load_config(Config, wrong_type)


# === Output folders ===


def test_staged_output_appears_only_on_success_and_replaces_the_old_run(tmp_path):
    out = tmp_path / "runs" / "job"
    with staged_output(out) as staging:
        (staging / "metrics.json").write_text("{}")
        assert not out.exists()
    assert (out / "metrics.json").exists()

    with staged_output(out) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "new.txt"]


def test_staged_output_leaves_nothing_when_the_run_fails(tmp_path):
    out = tmp_path / "job"
    with pytest.raises(RuntimeError):
        with staged_output(out) as staging:
            (staging / "metrics.json").write_text("{}")
            raise RuntimeError("training diverged")
    assert list(tmp_path.iterdir()) == []


def _folder(path, *names):
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_text(name)
    return path


def test_staged_output_refuses_a_folder_no_run_wrote_and_leaves_it_as_it_was(tmp_path):
    """`--out` naming the user's own folder (the data's, the home folder) used to be
    deleted whole when the run ended."""
    mine = _folder(tmp_path / "mine", "notes.txt", "train.csv")
    with pytest.raises(ValueError, match=r"`out_dir` expected a new or empty folder.*notes\.txt"):
        with staged_output(mine):
            raise AssertionError("the block must not run")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt", "train.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging left


def test_staged_output_refuses_a_file_and_the_current_folder(tmp_path, monkeypatch):
    a_file = tmp_path / "out.txt"
    a_file.write_text("mine")
    with pytest.raises(ValueError, match=r"`out_dir`.*out\.txt', which exists and is not a folder"):
        with staged_output(a_file):
            pass
    assert a_file.read_text() == "mine"
    run_dir = _folder(tmp_path / "run", OUTPUT_MARKER, "metrics.json")
    monkeypatch.chdir(run_dir)
    for out in (".", "..", str(run_dir)):
        with pytest.raises(ValueError, match="the current folder or one of its parents"):
            with staged_output(out):
                pass
    assert sorted(p.name for p in run_dir.iterdir()) == [OUTPUT_MARKER, "metrics.json"]


def test_staged_output_fills_an_empty_folder_and_replaces_what_it_may(tmp_path):
    empty = _folder(tmp_path / "empty")
    with staged_output(empty) as staging:
        (staging / "metrics.json").write_text("{}")
    assert sorted(p.name for p in empty.iterdir()) == [OUTPUT_MARKER, "metrics.json"]
    # A SavedModel a job wrote inside its run (no marker), replaced by `export RUN_DIR`:
    saved = _folder(tmp_path / "run" / "saved_model", "saved_model.pb")
    with staged_output(saved, replaces=("saved_model.pb",)) as staging:
        (staging / "saved_model.pb").write_text("new")
    assert (saved / "saved_model.pb").read_text() == "new"


def test_staged_output_gets_the_permissions_of_a_new_folder(tmp_path):
    with staged_output(tmp_path / "run"):
        pass
    (tmp_path / "made").mkdir()
    assert (tmp_path / "run").stat().st_mode == (tmp_path / "made").stat().st_mode


def test_a_recipe_refuses_its_out_folder_before_it_runs(tmp_path):
    from recipes.runner.distributed import run_as_chief_or_worker

    mine = _folder(tmp_path / "mine", "notes.txt")
    calls = []
    with pytest.raises(ValueError, match="`out_dir` expected a new or empty folder"):
        run_as_chief_or_worker(lambda *args: calls.append(args), Config(), mine)
    assert calls == []


# === Callbacks ===


def tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


def regression_data(seed=0, count=64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], "float32")


def test_budget_stops_training_cleanly_and_says_so(tmp_path):
    x, y = regression_data()
    model = tiny_model()
    callbacks = fit_callbacks(tmp_path, patience=None, max_train_minutes=1e-9)

    history = model.fit(
        x,
        y,
        validation_data=regression_data(1),
        batch_size=8,
        epochs=50,
        verbose=0,
        callbacks=callbacks,
    )

    assert len(history.history["loss"]) == 1  # stopped inside the first epoch
    report = restore_best(model, callbacks)
    assert report["stopped_by_time_budget"] is True
    assert np.isfinite(model.evaluate(x, y, verbose=0))
    assert (tmp_path / "training_log.csv").exists()


def test_a_loss_that_is_no_longer_finite_fails_the_run(tmp_path):
    """With `learning_rate` huge the loss went NaN and the run wrote every output."""
    x, y = regression_data()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(1e30), "mse")
    callbacks = fit_callbacks(tmp_path, patience=None)
    with pytest.raises(RuntimeError, match=r"Training diverged: the training loss is (nan|inf)"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)


def test_best_dev_checkpoint_is_restored_after_fit(tmp_path):
    x, y = regression_data()
    dev = regression_data(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    # A learning rate that first helps, then diverges: the last epoch is not the best.
    model.compile(keras.optimizers.SGD(0.45, momentum=0.9), "mse")
    callbacks = fit_callbacks(tmp_path, patience=None)

    history = model.fit(
        x, y, validation_data=dev, batch_size=64, epochs=12, verbose=0, callbacks=callbacks
    )
    report = restore_best(model, callbacks, history.history)

    losses = history.history["val_loss"]
    assert np.argmin(losses) != len(losses) - 1, losses
    seconds = report.pop("seconds")
    assert 0 < seconds < 600
    assert report == {
        "stopped_by_time_budget": False,
        "restored_best_checkpoint": True,
        "stopped_because": "completed all epochs=12",
        "epochs_run": 12,
        "monitor": "val_loss",
        "best_epoch": int(np.argmin(losses)) + 1,
        "best_value": pytest.approx(min(losses)),
    }
    np.testing.assert_allclose(model.evaluate(*dev, verbose=0), min(losses), rtol=1e-5)


def test_budget_schedule_rates_by_hand():
    schedule = BudgetSchedule(epochs=10, warmup_steps=4, floor=0.1)
    schedule.peak = 2.0
    # warm-up: (step + 1) / 4 of the cosine value; cosine(0) = 1
    assert schedule.rate(0.0, 0) == pytest.approx(0.5)
    assert schedule.rate(0.0, 3) == pytest.approx(2.0)
    # half way: floor + (1 - floor) / 2 = 0.55 of the peak; the end: the floor
    assert schedule.rate(0.5, 100) == pytest.approx(1.1)
    assert schedule.rate(1.0, 100) == pytest.approx(0.2)
    schedule._steps_per_epoch = 2  # the warm-up is at most an epoch
    assert schedule.rate(0.0, 0) == pytest.approx(1.0)
    assert schedule.rate(0.0, 1) == pytest.approx(2.0)


def test_stable_decay_keeps_the_peak_until_the_last_part_of_the_budget():
    schedule = BudgetSchedule(epochs=10, warmup_steps=0, floor=0.1, decay_fraction=0.4)
    schedule.peak = 2.0
    assert schedule.rate(0.0, 5) == pytest.approx(2.0)
    assert schedule.rate(0.6, 5) == pytest.approx(2.0)  # the decay starts at 60%
    # 80% is half way through the decay: floor + (1 - floor) / 2 = 0.55 of the peak
    assert schedule.rate(0.8, 5) == pytest.approx(1.1)
    assert schedule.rate(1.0, 5) == pytest.approx(0.2)


def test_budget_schedule_follows_the_time_budget_when_it_is_nearer(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("recipes.runner.training.time.monotonic", lambda: clock[0])
    schedule = BudgetSchedule(epochs=100, minutes=2)
    schedule.set_model(tiny_model())
    schedule.on_train_begin()
    schedule.on_epoch_begin(0)
    assert schedule.progress() == 0.0
    clock[0] += 60.0  # one minute of two, in the first of 100 epochs
    assert schedule.progress() == pytest.approx(0.5)
    clock[0] += 600.0
    assert schedule.progress() == 1.0


def test_budget_schedule_sets_the_rate_the_optimizer_applies(tmp_path):
    """Each SGD step on a loss of slope 1 moves the weight by exactly the step's rate,
    so the weight's total move is the sum of the scheduled rates (on every backend:
    the JAX trainer carries the optimizer's variables between steps)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(keras.optimizers.SGD(0.1), loss=lambda y_true, y_pred: keras.ops.mean(y_pred))
    model.set_weights([np.zeros((1, 1), "float32")])
    schedule = BudgetSchedule(epochs=3, warmup_steps=2, floor=0.2, tolerance=0.0)
    x = np.ones((8, 1), "float32")

    history = model.fit(x, x, batch_size=2, epochs=3, verbose=0, callbacks=[schedule])

    steps = 4
    rates = [
        schedule.rate((epoch + batch / steps) / 3, epoch * steps + batch)
        for epoch in range(3)
        for batch in range(steps)
    ]
    assert schedule.peak == pytest.approx(0.1)
    assert rates[0] == pytest.approx(0.05) and rates[-1] < 0.03
    np.testing.assert_allclose(model.get_weights()[0], [[-sum(rates)]], rtol=1e-5)
    assert history.history["learning_rate"][-1] == pytest.approx(rates[-1], rel=1e-6)


class StopFlag:
    stop_training = False


def run_plateau(epochs, **options):
    """Feeds `epochs` (a list of log dicts) to a PlateauStopping; the epoch it stopped at."""
    stopping = PlateauStopping("val_accuracy", "max", **options)
    if stopping.schedule is not None:
        stopping.schedule.set_model(StopFlag())
    stopping.set_model(StopFlag())
    stopping.on_train_begin()
    for epoch, logs in enumerate(epochs):
        stopping.on_epoch_end(epoch, logs)
        if stopping.model.stop_training:
            return epoch + 1, stopping.reason
    return None, None


def test_plateau_stopping_waits_while_the_training_loss_falls_steeply():
    """The speech run of issue 27: dev accuracy peaked at epoch 3 on one unseen voice
    while the training loss still fell; Keras' EarlyStopping(patience=6) ended at 9, and
    a later rule (stale for 3x patience) at 21. A stale dev metric alone never stops."""
    epochs = [
        {"loss": 2.0 * 0.9**epoch, "val_accuracy": 0.6 + (0.05 if epoch == 2 else 0.0)}
        for epoch in range(60)
    ]
    for logs in epochs:
        logs["val_loss"] = 1.0
    assert run_plateau(epochs, patience=6) == (None, None)
    # once the training loss flattens (here from epoch 41), the plateau rule stops it
    for epoch in range(40, 60):
        epochs[epoch]["loss"] = epochs[39]["loss"]
    stopped, reason = run_plateau(epochs, patience=6)
    assert stopped == 46
    assert reason == (
        "early stopping: dev val_accuracy has not improved for 43 epoch(s) (best at epoch 3) "
        "and the training loss fell 0.0% over the last 6 (less than 3%)"
    )


def test_plateau_stopping_waits_while_dev_climbs_back_towards_a_lucky_spike():
    """A 2-minute text run on 1,344 examples (24 classes): dev accuracy spiked at epoch 5,
    then climbed back; the first rule (3x patience 2 after the best) stopped it at epoch
    11, after 13 s of its budget."""
    dev = [0.052, 0.089, 0.161, 0.224, 0.318, 0.214, 0.229, 0.224, 0.240, 0.276, 0.286]
    dev += [0.30, 0.31, 0.33, 0.34, 0.33, 0.34, 0.34, 0.33, 0.34, 0.33]
    epochs = [
        {"loss": 3.2 * 0.9**epoch, "val_loss": 3.0 + 0.05 * epoch, "val_accuracy": value}
        for epoch, value in enumerate(dev)
    ]
    stopped, reason = run_plateau(epochs, patience=2)
    # the best is 0.34 at epoch 15 (a tie is no improvement); at epoch 17 the last two
    # (mean 0.335) are no better than the two before (0.335), and the dev loss (3.75,
    # 3.8) is over 10% above its best (3.0); at epochs 6-11 dev trended up
    assert stopped == 17
    assert reason == (
        "early stopping: dev val_accuracy has not improved for 2 epoch(s) (best at epoch 15) "
        "and the dev loss stayed over 10% above its best (3) for 2 epoch(s)"
    )


def test_plateau_stopping_stops_on_a_flat_training_loss():
    epochs = [{"loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5} for _ in range(10)]
    epochs[1]["val_accuracy"] = 0.7
    stopped, reason = run_plateau(epochs, patience=2)
    assert stopped == 4
    assert reason.endswith("and the training loss fell 0.0% over the last 2 (less than 3%)")


def test_a_plateau_cuts_the_schedules_rate_twice_before_stopping():
    """A training loss that stops falling at a high rate is a rate problem: cut it."""
    epochs = [{"loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5} for _ in range(20)]
    epochs[1]["val_accuracy"] = 0.7
    schedule = BudgetSchedule(epochs=20)
    stopping = PlateauStopping("val_accuracy", "max", patience=2, schedule=schedule)
    stopping.set_model(StopFlag())
    stopping.on_train_begin()
    scales = []
    for epoch, logs in enumerate(epochs):
        stopping.on_epoch_end(epoch, logs)
        scales.append(schedule.scale)
        if stopping.model.stop_training:
            break
    # plateau at epoch 4 (stale 2): cut; 2 epochs later, cut again; 2 later, stop
    assert stopping.cut_epochs == [4, 6]
    assert scales == pytest.approx([1, 1, 1, 0.3, 0.3, 0.09, 0.09, 0.09])
    assert stopping.reason.endswith("after learning-rate cuts at epochs [4, 6]")
    schedule.peak = 1.0
    assert schedule.rate(0.0, 100) == pytest.approx(0.09)


def test_plateau_stopping_stops_when_the_dev_loss_clearly_rises():
    """Overfitting: the training loss falls fast while the dev loss climbs."""
    dev_losses = [0.5, 0.4, 0.42, 0.43, 0.6, 0.7, 0.8]
    epochs = [
        {"loss": 0.5**epoch, "val_loss": dev_loss, "val_accuracy": 0.8 - 0.01 * epoch}
        for epoch, dev_loss in enumerate(dev_losses)
    ]
    epochs[1]["val_accuracy"] = 0.9
    # after the best (epoch 2) 0.42 and 0.43 are within 10% of the best dev loss, 0.4:
    # only at epoch 6 are the last two dev losses both over 0.44
    stopped, reason = run_plateau(epochs, patience=2)
    assert stopped == 6
    assert "the dev loss stayed over 10% above its best (0.4) for 2 epoch(s)" in reason


def test_make_optimizer_clips_the_global_norm_or_each_variable():
    @dataclasses.dataclass
    class Training:
        learning_rate: float = 0.01
        global_clipnorm: float | None = 1.0
        clipnorm: float | None = None

    optimizer = make_optimizer(Training())
    assert optimizer.global_clipnorm == 1.0 and optimizer.clipnorm is None
    optimizer = make_optimizer(Training(clipnorm=5.0))
    assert optimizer.clipnorm == 5.0 and optimizer.global_clipnorm is None
    assert make_optimizer(Training(global_clipnorm=None)).global_clipnorm is None


def test_phases_say_what_runs_and_record_its_seconds(capsys, monkeypatch):
    clock = iter([10.0, 12.5, 20.0, 21.0, 30.0, 30.25, 40.0, 41.0])
    monkeypatch.setattr("recipes.runner.reports.time.monotonic", lambda: next(clock))
    phases = Phases(verbose=1)
    with phases("baseline", "an MLP, at most 60 s"):
        pass
    with phases("export"):
        pass
    with phases("export"):  # a phase met twice adds up
        pass
    assert phases.seconds == {"baseline": 2.5, "export": 1.2}
    assert capsys.readouterr().out.splitlines() == [
        "baseline: an MLP, at most 60 s ...",
        "baseline: 2.5 s",
        "export ...",
        "export: 1.0 s",
        "export ...",
        "export: 1.2 s",
    ]
    quiet = Phases(verbose=0)
    with quiet("export"):
        pass
    assert capsys.readouterr().out == ""


def test_planned_epochs_follow_the_budget_unless_set():
    @dataclasses.dataclass
    class Training:
        EPOCHS_WITHOUT_BUDGET = 15
        epochs: int | None = None
        max_train_minutes: float | None = None

    assert planned_epochs(Training()) == 15
    assert planned_epochs(Training(max_train_minutes=2)) == BUDGET_EPOCHS
    assert planned_epochs(Training(epochs=4, max_train_minutes=2)) == 4
    assert planned_epochs(Training(epochs=4)) == 4


def test_fit_callbacks_schedule_needs_epochs(tmp_path):
    with pytest.raises(ValueError, match="`lr_schedule` expected one of"):
        fit_callbacks(tmp_path, lr_schedule="linear")
    with pytest.raises(ValueError, match="`epochs` is needed by lr_schedule='cosine'"):
        fit_callbacks(tmp_path, lr_schedule="cosine")
    callbacks = fit_callbacks(tmp_path, epochs=5, lr_schedule="stable-decay")
    assert [c.decay_fraction for c in callbacks if isinstance(c, BudgetSchedule)] == [0.3]
    assert [type(c) for c in callbacks if isinstance(c, (BudgetSchedule, PlateauStopping))] == [
        BudgetSchedule,
        PlateauStopping,
    ]


def test_best_checkpoint_breaks_ties_on_a_second_metric(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    epochs = [  # (dev BLEU, dev loss): BLEU saturates while the loss still falls
        {"val_bleu": 10.0, "val_loss": 3.0},
        {"val_bleu": 20.0, "val_loss": 2.5},
        {"val_bleu": 20.0, "val_loss": 2.0},
        {"val_bleu": 20.0, "val_loss": 2.2},
        {"val_bleu": float("nan"), "val_loss": 0.1},
        {"val_bleu": 15.0, "val_loss": 1.0},
    ]
    picked = {}
    saves = []
    original_save = model.save_weights
    model.save_weights = lambda *args, **kwargs: saves.append(1) or original_save(*args, **kwargs)
    for tie_breaker in (None, ("val_loss", "min")):
        path = tmp_path / f"best_{tie_breaker is not None}.weights.h5"
        checkpoint = BestCheckpoint(path, "val_bleu", "max", tie_breaker=tie_breaker)
        checkpoint.set_model(model)
        checkpoint.on_train_begin()
        for epoch, logs in enumerate(epochs):
            model.layers[0].bias.assign([float(epoch)])
            checkpoint.on_epoch_end(epoch, dict(logs))
        assert not path.exists()  # written once, when `fit` ends
        checkpoint.on_train_end()
        # The model keeps its last epoch's weights; the file holds the best epoch's.
        assert float(model.layers[0].bias.numpy()[0]) == 5.0
        model.load_weights(str(path))
        picked[tie_breaker] = (checkpoint.best_epoch, float(model.layers[0].bias.numpy()[0]))
    assert picked == {None: (2, 1.0), ("val_loss", "min"): (3, 2.0)}
    assert len(saves) == 2  # one file per fit, not one per new best epoch (2 and 3)
    with pytest.raises(ValueError, match="`mode` expected 'min' or 'max'"):
        BestCheckpoint(tmp_path / "w.weights.h5", "val_bleu", "maximum")


def test_budget_argument_is_checked():
    with pytest.raises(ValueError, match="--max-train-minutes"):
        WallClockBudget(0)


def test_strategies_by_name():
    with pytest.raises(ValueError, match=r"--strategy.*Received: 'tpu'"):
        make_strategy("tpu")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert isinstance(make_strategy("mirrored"), tf.distribute.MirroredStrategy)
        assert make_strategy("default") is tf.distribute.get_strategy()
    else:
        assert make_strategy("default") is None
        with pytest.raises(ValueError, match="TensorFlow backend"):
            make_strategy("mirrored")


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("tf_config", ["{not json", "[1, 2]"])
def test_a_malformed_tf_config_is_named(monkeypatch, tf_config):
    """TensorFlow's own error for it was a bare `JSONDecodeError`."""
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=r"`TF_CONFIG`.*expected a JSON object.*Received: "):
        make_strategy("multiworker")


# === Command lines ===


def test_recipe_commands_keep_freed_memory_before_they_run(monkeypatch, tmp_path):
    events = []
    monkeypatch.setattr(cli, "reuse_freed_memory", lambda: events.append("reuse_freed_memory"))

    def run(config, out):
        events.append(("run", config.units, out))
        pathlib.Path(out).mkdir()
        return {"score": 1.0}

    parser = cli.add_training_arguments(argparse.ArgumentParser(), "runs/x", "data")
    out = str(tmp_path / "run")
    assert cli.train_command(parser, ["--out", out, "--set", "units=3"], Config, run, str) == 0
    assert events == ["reuse_freed_memory", ("run", 3, out)]

    events.clear()
    commands = {"tag": lambda argv: events.append(("tag", argv)) or 0}
    assert cli.subcommand_main(["tag", "x.wav"], commands, train=None) == 0
    assert events == ["reuse_freed_memory", ("tag", ["x.wav"])]

    # Training through `subcommand_main` makes the settings once (in `train_command`).
    events.clear()

    def train(argv):
        return cli.train_command(parser, argv, Config, run, str)

    out = str(tmp_path / "second")
    assert cli.subcommand_main(["train", "--out", out, "--set", "units=4"], commands, train) == 0
    assert events == ["reuse_freed_memory", ("run", 4, out)]


# === Reports ===


def test_confusion_matrix_counts_are_written_on_the_non_zero_cells(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    figures = []
    save = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda self, *a, **k: figures.append(self) or save(self, *a, **k)
    )
    true, predicted = [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0]
    matrix = plot_confusion_matrix(true, predicted, ["a", "b", "c"], tmp_path / "cm.png", "t")

    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert (tmp_path / "cm.png").stat().st_size > 0
    (ax,) = figures[0].axes
    # (column, row) = (predicted, true): one text per non-zero count, none on zeros.
    written = sorted((text.get_position(), text.get_text()) for text in ax.texts)
    assert written == [
        ((0, 0), "1"),
        ((0, 2), "1"),
        ((1, 0), "1"),
        ((1, 1), "1"),
        ((2, 2), "2"),
    ]


@pytest.mark.parametrize(
    "module, argv",
    [
        ("text_classification", ["predict", "RUN", "--batch-size", "0"]),
        ("translation", ["translate", "RUN", "--batch-size", "-3"]),
        ("translation", ["translate", "RUN", "--beam-width", "0"]),
        ("translation", ["translate", "RUN", "--batch-size", "many"]),
    ],
)
def test_serving_commands_refuse_non_positive_sizes_naming_the_flag(module, argv, capsys):
    """`--batch-size 0` ended in a raw TensorFlow error naming no flag."""
    import importlib

    main = importlib.import_module(f"recipes.{module}.cli").main
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    flag, value = argv[-2:]
    expected = f"argument {flag}: expected a positive integer. Received: {value!r}"
    assert expected in capsys.readouterr().err


def test_a_later_export_is_recorded_in_metrics_json(tmp_path):
    """`export RUN_DIR` wrote the SavedModel of a `saved_model: false` run, but its
    metrics.json still said "not written"."""
    import json

    from recipes.runner.exporting import record_later_export

    metrics = {"accuracy": 0.9, "export": {"saved_model": "not written: saved_model=false; ..."}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    record_later_export(tmp_path)
    updated = json.loads((tmp_path / "metrics.json").read_text())
    assert updated["accuracy"] == 0.9
    assert updated["export"]["saved_model"].startswith("written later by the `export` command (")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
    record_later_export(tmp_path)  # a report that says something else is left alone
    assert json.loads((tmp_path / "metrics.json").read_text()) == updated
    record_later_export(tmp_path / "missing")  # no metrics.json: nothing to do


def test_a_run_saved_model_is_verified_once_when_the_exporter_verified_it(tmp_path, monkeypatch):
    """`write_run_saved_model` reuses the summary a `toolkit.export` exporter returns
    (it verified twice before), and verifies a SavedModel whose writer returns none."""
    import toolkit.export
    from recipes.runner import exporting

    calls = []

    def fake_verify(path, allowed_extra=()):
        calls.append(pathlib.Path(path).name)
        return {"signatures": [], "ops": {"A": 1}, "extra_ops": []}

    monkeypatch.setattr(toolkit.export, "verify_saved_model", fake_verify)

    def exporter(folder):
        (folder / "saved_model.pb").write_bytes(b"")
        return fake_verify(folder)

    run = tmp_path / "run"
    run.mkdir()
    exporting.write_run_saved_model(run, exporter)
    assert len(calls) == 1
    exporting.write_run_saved_model(
        run, lambda folder: (folder / "saved_model.pb").write_bytes(b"")
    )
    assert len(calls) == 2
    assert exporting.ops_report(fake_verify(run)) == {"distinct_ops": 1, "extra_ops": []}
