"""Smoke test of the recurrent-layer benchmark suite (`benchmarks/recurrent_layers.py`).

Runs its `--quick` mode in-process on tiny shapes with 2 repeats and checks the structure
of `results.json` and `results.md`, not the timings. One layer (GRU) and every variant
except `long` keep it to a few seconds; all three frameworks run. PyTorch rows read
"not installed" when torch is absent. The suite on Keras' torch backend runs in a
subprocess (this file is not in the torch pass of `tests/conftest.py`). Also the shell
glue of `scripts/gpu_check.sh`, the GPU machine's command, with a stand-in interpreter.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

from benchmarks import recurrent_layers

LAYERS = ("gru",)
# Every variant; "long" only differs from "base" in shape, and --quick shrinks both alike.
CONFIGS = ("base", "masked", "masked_left", "masked_holes", "bidirectional", "latency")
# torch.nn has no left padding or holes: its rows read "n/a" there.
TORCH_CONFIGS = ("base", "masked", "bidirectional", "latency")
ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_suite_writes_rows_ratios_and_flop_rates(tmp_path, capsys):
    has_torch = importlib.util.find_spec("torch") is not None
    recurrent_layers.main(
        ["--quick", "--repeats", "2", "--warmup", "1", "--layers", ",".join(LAYERS)]
        + ["--configs", ",".join(CONFIGS), "--out", str(tmp_path)]
    )

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["machine"]["os_cpu_count"] >= 1
    assert results["machine"]["backend"] in ("tensorflow", "jax")
    assert results["matmul"]["gflops"] > 0
    rows = results["rows"]
    expected = {(c, layer, f) for c in CONFIGS for layer in LAYERS for f in ("toolkit", "keras")}
    if has_torch:
        expected |= {(c, layer, "torch") for c in TORCH_CONFIGS for layer in LAYERS}
    assert {(r["config"], r["layer"], r["framework"]) for r in rows if r["status"] == "ok"} == (
        expected
    )
    assert len(rows) == len(CONFIGS) * len(LAYERS) * 3
    for row in rows:
        if row["framework"] == "torch" and row["config"] not in TORCH_CONFIGS:
            assert row["status"] == recurrent_layers.TORCH_RIGHT_PADDING_ONLY
            continue
        if row["framework"] == "torch" and not has_torch:
            assert row["status"] == "not installed"
            continue
        phases = ("infer",) if row["config"] == "latency" else ("train", "infer")
        assert set(row["toolkit_over_this"]) == set(phases)
        for phase in phases:
            assert row[phase]["ms"] > 0
            assert row[phase]["tokens_per_s"] > 0
            assert row[phase]["gflops"] > 0
            assert 0 < row[phase]["peak_fraction"]
        if row["framework"] != "torch":
            assert row["jit_compile"] in (True, False)
            assert set(row["path"]) == set(phases)
    for config in CONFIGS:
        peers = {"toolkit/keras"}
        if has_torch and config in TORCH_CONFIGS:
            peers.add("toolkit/torch")
        for layer in LAYERS:
            ratios = [r for r in results["ratios"] if (r["config"], r["layer"]) == (config, layer)]
            assert {r["ratio"] for r in ratios} == peers
            assert all(r["infer"] > 0 for r in ratios)

    table = (tmp_path / "results.md").read_text()
    main_table, paddings = table.split("Paddings side by side")
    table_rows = [line for line in main_table.splitlines() if line.startswith("| ")]
    assert len(table_rows) == 2 + len(rows)  # header, rule, one per config x layer x framework
    assert "train toolkit/this" in table_rows[0] and "% peak" in table_rows[0]
    assert_paddings_table(paddings, LAYERS, has_torch)
    assert table in capsys.readouterr().out


def table_cells(text):
    """The cells of each markdown table line in `text`."""
    lines = [line.strip("| ") for line in text.splitlines() if line.startswith("| ")]
    return [line.split(" | ") for line in lines]


def assert_paddings_table(text, layers, has_torch):
    """One line per layer x framework: right-padding ms, then left/right and holes/right,
    for training and for inference; "n/a" for torch.nn's left padding and holes."""
    header, _, *lines = table_cells(text)
    assert header[3] == "train left/right" and header[7] == "infer holes/right"
    frameworks = ("toolkit", "keras", "torch")
    assert {tuple(line[:2]) for line in lines} == {(y, f) for y in layers for f in frameworks}
    for line in lines:
        framework, train_ms, infer_ms = line[1], line[2], line[5]
        ratios = line[3:5] + line[6:8]  # left/right and holes/right, train then infer
        if framework == "torch":
            assert ratios == ["n/a"] * 4
            assert (train_ms != "-") == has_torch
        else:
            assert float(train_ms) > 0 and float(infer_ms) > 0
            assert all(float(ratio) > 0 for ratio in ratios)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_quick_suite_runs_on_the_torch_backend(tmp_path):
    """`KERAS_BACKEND=torch`, in a subprocess: the toolkit's and Keras' layers on Keras'
    torch backend beside torch.nn, eager (`--jit-compile auto` is False on torch), every
    padding and bidirectional; the toolkit's rows name the execution path they took."""
    configs = ("base", "masked", "masked_left", "masked_holes", "bidirectional")
    command = [sys.executable, "-m", "benchmarks.recurrent_layers", "--quick", "--repeats", "1"]
    command += ["--layers", ",".join(LAYERS), "--configs", ",".join(configs)]
    done = subprocess.run(
        command + ["--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "torch"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["machine"]["backend"] == "torch"
    assert results["machine"]["keras_device"].startswith(("cpu:", "cuda:"))
    rows = results["rows"]
    assert len(rows) == len(configs) * len(LAYERS) * 3
    for row in rows:
        if row["framework"] == "torch" and row["config"] in ("masked_left", "masked_holes"):
            assert row["status"] == recurrent_layers.TORCH_RIGHT_PADDING_ONLY
            continue
        assert row["status"] == "ok", row
        assert set(row["toolkit_over_this"]) == {"train", "infer"}
        if row["framework"] != "torch":
            assert row["jit_compile"] is False
        if row["framework"] == "toolkit":
            assert set(row["path"]) == {"train", "infer"}
            assert "n/a" not in row["path"].values()
    table = (tmp_path / "results.md").read_text()
    assert "backend torch on " in table
    assert_paddings_table(table.split("Paddings side by side")[1], LAYERS, has_torch=True)


@pytest.mark.no_keras_state
def test_paddings_keep_each_rows_valid_steps_and_move_the_padding():
    def mask(padding):
        config = recurrent_layers.Config("x", batch=2, time=6, features=1, units=1, padding=padding)
        return config.step_mask().astype(int).tolist()

    assert mask("right") == [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]]
    assert mask("left") == [[1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]]
    assert mask("holes") == [[1, 1, 1, 1, 1, 1], [1, 0, 1, 0, 0, 1]]  # first and last valid
    holes = recurrent_layers.Config("x", 2, 100, 1, 1, padding="holes").step_mask()
    assert holes.sum(axis=1).tolist() == [100, 50] and holes[1, 0] and holes[1, -1]


@pytest.mark.no_keras_state
def test_a_failure_takes_one_table_line():
    """Keras' and dynamo's error messages span lines, with terminal colours and `|`."""
    row = {"config": "base", "layer": "gru", "framework": "toolkit"}
    row["status"] = "failed: Error: Exception in GRU.call().\n\n\x1b[1mValueError: a | b\x1b[0m\n"
    cells = recurrent_layers.table_row(row)
    assert cells[3] == "failed: Error: Exception in GRU.call(). ValueError: a \\| b"
    assert len(cells) == len(recurrent_layers.TABLE_HEADER)


@pytest.mark.slow
def test_length_configs_compare_toolkit_layers_side_by_side(tmp_path):
    recurrent_layers.main(
        ["--quick", "--repeats", "1", "--warmup", "1", "--layers", "gru,simple"]
        + ["--configs", "length128,length2048", "--frameworks", "toolkit", "--out", str(tmp_path)]
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(r["config"], r["layer"]) for r in results["rows"]] == [
        ("length128", "gru"),
        ("length128", "simple"),
        ("length2048", "gru"),
        ("length2048", "simple"),
    ]
    table = (tmp_path / "results.md").read_text()
    side = table.split("Toolkit layers side by side")[1].splitlines()
    rows = [line.split(" | ") for line in side if line.startswith("| length")]
    assert len(rows) == 4
    assert rows[0][3] == "1.00" and rows[2][3] == "1.00"  # the GRU against itself
    assert float(rows[1][3]) > 0


def test_flop_counts_cover_the_matmuls_of_each_cell():
    config = recurrent_layers.Config("x", batch=2, time=3, features=5, units=7)
    tokens = 6
    assert config.forward_flops("lstm") == 2 * (5 * 4 + 7 * 4) * 7 * tokens
    assert config.forward_flops("mingru") == 2 * (5 * 2) * 7 * tokens  # no recurrent matmul


def test_matmul_rate_on_an_accelerator_uses_the_backend_and_waits_for_the_result():
    """The branch a GPU run takes (here on the CPU: the branch is chosen by the device
    name, the arithmetic is the same)."""
    rate = recurrent_layers.matmul_rate(64, repeats=2, device="gpu:0")
    assert rate["library"].startswith("keras.ops.matmul (") and "gpu:0" in rate["library"]
    assert rate["gflops"] > 0 and rate["shape"] == "64x64 @ 64x64 float32"
    assert recurrent_layers.matmul_rate(64, repeats=2)["library"].startswith("numpy ")


def test_torch_on_cuda_without_a_gpu_is_refused_before_anything_runs(tmp_path, monkeypatch):
    class NoCuda:
        class cuda:
            @staticmethod
            def is_available():
                return False

    monkeypatch.setattr(recurrent_layers, "import_torch", lambda: NoCuda)
    with pytest.raises(SystemExit, match="--torch-device cuda: PyTorch sees no CUDA device"):
        recurrent_layers.main(
            ["--quick", "--torch-device", "cuda", "--configs", "latency", "--out", str(tmp_path)]
        )
    assert not (tmp_path / "results.json").exists()
    with pytest.raises(SystemExit):  # argparse: not a choice
        recurrent_layers.parse_args(["--torch-device", "tpu"])


def _fake_python(tmp_path, failing):
    """A stand-in for `python3` that logs its arguments and fails running module `failing`."""
    log = tmp_path / "calls.log"
    fake = tmp_path / "python"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$KERAS_BACKEND $*" >> {log}\n'
        f'case "$*" in *"-m {failing} "*) echo "{failing} failed"; exit 3;; esac\n'
        'case "$*" in *torch.cuda*) exit 1;; esac\n'
    )
    fake.chmod(0o755)
    return fake, log


@pytest.mark.parametrize("failing", ["nothing", "pytest", "benchmarks.recurrent_layers", "pip"])
def test_gpu_check_runs_every_step_and_reports_a_failed_one(tmp_path, failing):
    """`scripts/gpu_check.sh` (for a lent GPU machine): the carried wheels installed first,
    then on JAX the cuDNN tests and the benchmark with the extra arguments, PyTorch on the
    CPU where it sees no GPU; a failed step fails the script but does not stop the next
    one, except the install, which stops it."""
    fake, log = _fake_python(tmp_path, failing)
    root = pathlib.Path(__file__).resolve().parents[1]
    out, wheels = tmp_path / "out", tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "keras-3-py3-none-any.whl").write_text("")
    done = subprocess.run(
        ["bash", str(root / "scripts" / "gpu_check.sh"), str(out), "--configs", "base"],
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake), "WHEELS": str(wheels)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == (0 if failing == "nothing" else 1), done.stderr
    install, *calls = log.read_text().splitlines()
    assert install.startswith(" -m pip install") and install.endswith("keras-3-py3-none-any.whl")
    if failing == "pip":
        assert calls == [] and not out.exists()
        return
    assert all(call.startswith("jax ") for call in calls)
    assert any("-m pytest tests/layers/test_cudnn.py" in call for call in calls)
    benchmark = f"-m benchmarks.recurrent_layers --torch-device cpu --out {out}/benchmark"
    assert any(call.endswith(f"{benchmark} --configs base") for call in calls)
    assert {p.name for p in out.iterdir()} == {"machine.txt", "test_cudnn.log", "benchmark.log"}
    if failing != "nothing":
        logged = "test_cudnn.log" if failing == "pytest" else "benchmark.log"
        assert f"{failing} failed" in (out / logged).read_text()
