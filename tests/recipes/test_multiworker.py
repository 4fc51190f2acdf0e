"""`--strategy multiworker`: two worker processes on localhost train one model.

Each worker builds the model under the runner's `make_strategy("multiworker")`
(cluster from `TF_CONFIG`), applies `prepare_model_for_strategy` (the
workaround for keras-team/keras#20585, see `recipes.runner.distributed`) and
runs `model.fit`, `evaluate` and `predict` over `tf.data`. Gradients are
all-reduced, so both end with the same weights: those of one process that
trained on the whole data with the same global batch, which differ from a
model that trained on either worker's half alone.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow_only

WORKER = textwrap.dedent(
    """
    import json, os, sys
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import numpy as np
    import keras
    import tensorflow as tf
    from recipes.runner import make_strategy
    from recipes.runner.distributed import prepare_model_for_strategy
    keras.config.disable_traceback_filtering()

    out = sys.argv[1]
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = make_strategy("multiworker")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).with_options(options)


    def build():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse")
        return model


    with strategy.scope():
        model = prepare_model_for_strategy(build(), strategy)
    initial = model.get_weights()
    history = model.fit(data, epochs=3, validation_data=data, verbose=0)
    evaluation = model.evaluate(data, verbose=0)
    predictions = model.predict(data, verbose=0)

    # References on this worker alone, from the same initial weights: the
    # whole data in global batches of 16, and half of it in batches of 8.
    whole = build()
    whole.set_weights(initial)
    whole_history = whole.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    half_rows = (np.arange(64) // 8) % 2 == task
    half = build()
    half.set_weights(initial)
    half.fit(x[half_rows], y[half_rows], batch_size=8, epochs=3, shuffle=False, verbose=0)

    np.save(f"{out}/worker{task}.npy", model.get_weights()[0])
    np.save(f"{out}/whole{task}.npy", whole.get_weights()[0])
    np.save(f"{out}/half{task}.npy", half.get_weights()[0])
    np.save(f"{out}/predictions{task}.npy", predictions)
    np.save(f"{out}/expected{task}.npy", whole.predict(x, verbose=0))
    print(json.dumps({"workers": strategy.num_replicas_in_sync,
                      "loss": history.history["loss"],
                      "val_loss": history.history["val_loss"],
                      "evaluation": evaluation,
                      "whole_loss": whole_history.history["loss"]}))
    """
)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run_two_workers(command, tmp_path):
    """Runs `command(index)` as worker 0 and 1 of a localhost cluster; their stdouts."""
    workers = [f"localhost:{port}" for port in free_ports(2)]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    processes = []
    for index in range(2):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        )
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["KERAS_BACKEND"] = "tensorflow"
        processes.append(
            subprocess.Popen(
                command(index),
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=300)
        finally:
            for other in processes:
                if other.poll() is None and process.returncode is None:
                    other.kill()
        assert process.returncode == 0, stderr[-4000:]
        outputs.append(stdout)
    return outputs


def test_two_workers_train_one_model_in_sync(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    outputs = run_two_workers(lambda index: [sys.executable, str(script), str(tmp_path)], tmp_path)
    results = [json.loads(stdout.strip().splitlines()[-1]) for stdout in outputs]

    assert [result["workers"] for result in results] == [2, 2]
    for result in results:
        assert np.all(np.isfinite(result["loss"]))
        assert result["loss"][-1] < result["loss"][0]
        # Logs are averaged over both workers: the same as one process
        # training on the whole data; `evaluate` works under the strategy.
        np.testing.assert_allclose(result["loss"], result["whole_loss"], rtol=1e-5)
        assert np.all(np.isfinite(result["val_loss"]))
        np.testing.assert_allclose(result["evaluation"], result["val_loss"][-1], rtol=1e-5)
    np.testing.assert_allclose(results[0]["loss"], results[1]["loss"], rtol=1e-6)

    weights = [np.load(tmp_path / f"worker{index}.npy") for index in range(2)]
    np.testing.assert_allclose(weights[0], weights[1], atol=1e-6)
    for index in range(2):
        # All-reduced gradients: one step per global batch of 16, as if a
        # single process had trained on the whole data, and not on its half.
        np.testing.assert_allclose(
            weights[index], np.load(tmp_path / f"whole{index}.npy"), atol=1e-5
        )
        assert not np.allclose(weights[index], np.load(tmp_path / f"half{index}.npy"), atol=1e-3)
        # `predict` gathers both workers' outputs back into the data's order.
        np.testing.assert_allclose(
            np.load(tmp_path / f"predictions{index}.npy"),
            np.load(tmp_path / f"expected{index}.npy"),
            atol=1e-5,
        )


def test_prepare_model_for_strategy_leaves_single_worker_models_alone():
    import keras
    import tensorflow as tf

    from recipes.runner.distributed import is_multi_worker
    from recipes.runner.distributed import prepare_model_for_strategy

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    for strategy in (None, tf.distribute.get_strategy()):
        assert not is_multi_worker(strategy)
        assert prepare_model_for_strategy(model, strategy) is model
        assert "train_step" not in vars(model)
        assert "_maybe_symbolic_build" not in vars(model)


def run_recipe_on_two_workers(module, arguments, tmp_path):
    """Runs `python -m module --strategy multiworker` on two workers; the chief's metrics.

    Checks what holds for every recipe: the chief (worker 0) writes its run
    folder, worker 1 trains with it and writes nothing, no staging folder is
    left behind, and the SavedModel is written.
    """
    outputs = run_two_workers(
        lambda index: [
            sys.executable,
            "-m",
            module,
            *arguments,
            "--strategy",
            "multiworker",
            "--out",
            str(tmp_path / f"out{index}"),
        ],
        tmp_path,
    )
    assert "Wrote" in outputs[0]
    assert "this worker is not the chief" in outputs[1]
    assert not (tmp_path / "out1").exists()
    assert (tmp_path / "out0" / "saved_model" / "saved_model.pb").is_file()
    leftovers = [path.name for path in tmp_path.iterdir() if path.name.startswith(".")]
    assert leftovers == []
    metrics = json.loads((tmp_path / "out0" / "metrics.json").read_text())
    assert metrics["strategy"] == "multiworker"
    return metrics


def test_text_classification_recipe_trains_on_two_workers(tmp_path):
    from recipes.text_classification.config import PRESETS
    from tests.recipes.test_text_classification import sentences
    from tests.recipes.test_text_classification import write_csv

    data = write_csv(tmp_path / "topics.csv", sentences(90, seed=0))
    arguments = ["--data", str(data), "--preset", str(PRESETS / "tiny.yaml")]
    metrics = run_recipe_on_two_workers(
        "recipes.text_classification", arguments + ["--set", "baseline=false"], tmp_path
    )
    assert metrics["training"]["epochs_run"] == 2


def test_translation_recipe_trains_on_two_workers(tmp_path):
    from tests.recipes.test_translation import PAIRS
    from tests.recipes.test_translation import write_splits

    data = write_splits(tmp_path / "data", PAIRS[:4])
    tiny = [
        "units=16",
        "embedding_dim=8",
        "source_vocabulary=40",
        "target_vocabulary=40",
        "batch_size=4",
        "epochs=2",
        "patience=null",
        "beam_width=2",
        "attention_examples=1",
        "verbose=0",
    ]
    arguments = ["--data", str(data), *[a for setting in tiny for a in ("--set", setting)]]
    # Both workers compute the same dev BLEU each epoch (it picks the best epoch).
    metrics = run_recipe_on_two_workers("recipes.translation", arguments, tmp_path)
    assert metrics["training"]["epochs_run"] == 2
    assert metrics["training"]["monitor"] == "val_bleu"
    assert metrics["export"]["saved_model_same_translations"] is True
