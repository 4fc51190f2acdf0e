"""Smoke test of the recurrent-layer benchmark suite (`benchmarks/recurrent_layers.py`).

Runs its `--quick` mode in-process on tiny shapes with 2 repeats and checks the structure
of `results.json` and `results.md`, not the timings: each Keras-API model timed with
`jit_compile` True and False and the faster taken (the default `--jit-compile best`), the
matmul rates of the limit at the squares and at each layer's shapes, and each row's
fraction of them. One layer (GRU) and every variant except `long` keep it to a few
seconds; all three frameworks run. PyTorch rows read "not installed" when torch is
absent. The suite on Keras' torch backend runs in a subprocess (this file is not in the
torch pass of `tests/conftest.py`). Also the shell glue of `scripts/gpu_check.sh`, the
GPU machine's command, with a stand-in interpreter.
"""

import dataclasses
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import keras
import pytest

from benchmarks import recurrent_layers

LAYERS = ("gru",)
# Every variant; "long" only differs from "base" in shape, and --quick shrinks both alike.
CONFIGS = (
    "base",
    "masked",
    "masked_left",
    "masked_holes",
    "bidirectional",
    "stacked",
    "latency",
)
# torch.nn has no left padding or holes: its rows read "n/a" there.
TORCH_CONFIGS = ("base", "masked", "bidirectional", "stacked", "latency")
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
    assert results["settings"]["allocator"] == "reuse"  # glibc here
    assert "Freed memory: kept in the process" in (tmp_path / "results.md").read_text()
    assert results["machine"]["backend"] in ("tensorflow", "jax")
    assert_limits(results["limits"], CONFIGS, LAYERS, has_torch)
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
            assert row[phase]["limit_fraction"] > 0 and row[phase]["square_fraction"] > 0
            assert_best_variant_taken(row, phase)
        if row["framework"] != "torch":
            assert set(row["jit_compile"]) == set(phases)
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
    main_table, rest = table.split("Matmul rates")
    matmul_table, paddings = rest.split("Paddings side by side")
    table_rows = [line for line in main_table.splitlines() if line.startswith("| ")]
    assert "jit_compile=True` and `False`" in table
    assert "tf.matmul" in table.split("| config |")[0]  # the rules name the limit's libraries
    matmul_header, _, *matmul_lines = table_cells(matmul_table)
    assert matmul_header[-2:] == ["limit", "used by"] and "numpy" in matmul_header
    assert {line[1].split(" (")[0] for line in matmul_lines} == {
        "large square",
        "input projection",
        "one recurrent step",
    }
    assert len(table_rows) == 2 + len(rows)  # header, rule, one per config x layer x framework
    header, _, *lines = table_cells("\n".join(table_rows))
    assert "train toolkit/this" in header and "train % limit / % square" in header
    for line in lines:
        cells = dict(zip(header, line))
        if cells["infer ms"] == "-":  # torch.nn's left padding and holes, or no torch
            continue
        limit, square = cells["infer % limit / % square"].split(" / ")
        assert float(limit) >= 0 and float(square) >= 0
        on_off = cells["infer ms jit on / off"]
        if cells["framework"] == "torch":
            assert on_off == "-" and cells["jit_compile"] == "eager"
        else:  # both times, the row's own the smaller
            assert float(cells["infer ms"]) == min(map(float, on_off.split(" / ")))
    assert_paddings_table(paddings, LAYERS, has_torch)
    assert table in capsys.readouterr().out


def assert_limits(limits, configs, layers, has_torch):
    """The limit's matmul rates: every library at the squares and at each config x layer's
    input projection and recurrent step (`--quick` shapes), NumPy at the squares only."""
    names = set(limits["libraries"])
    if importlib.util.find_spec("tensorflow") is not None:
        assert "tf.matmul" in names
    assert ("torch.matmul" in names) == has_torch
    assert "numpy" not in names and set(limits["reference"]) == {"numpy"}
    shapes = {(entry["kind"], entry["shape"]): entry for entry in limits["shapes"]}
    assert {shape for kind, shape in shapes if kind == "square"} == {
        "128x128 @ 128x128",
        "256x256 @ 256x256",
    }
    for config in configs:
        batch = 1 if config == "latency" else 4  # --quick: time 6, features 3, units 4
        for layer in layers:
            entry = limits["layers"][f"{config} {layer}"]
            input_width, recurrent_width = recurrent_layers.MATMUL_WIDTHS[layer]
            assert entry["projection"] == f"{batch * 6}x3 @ 3x{4 * input_width}"
            assert entry["step"] == f"{batch}x4 @ 4x{4 * recurrent_width}"
            projection = shapes["projection", entry["projection"]]
            assert f"{config} {layer}" in projection["used_by"]
            assert entry["limit_gflops"] == projection["best"] > 0
            assert "step" in {kind for kind, shape in shapes if shape == entry["step"]}
    for (kind, _), entry in shapes.items():
        expected = names | {"numpy"} if kind == "square" else names
        assert set(entry["gflops"]) == expected and min(entry["gflops"].values()) > 0
        assert entry["best"] == max(entry["gflops"][name] for name in names)
    assert limits["square"]["gflops"] == max(
        entry["best"] for (kind, _), entry in shapes.items() if kind == "square"
    )


def assert_best_variant_taken(row, phase):
    """A Keras-API row timed both `jit_compile` values and took the faster; torch.nn one."""
    variants = row[phase]["variants"]
    if row["framework"] == "torch":
        assert [v["jit_compile_requested"] for v in variants] == ["eager"]
        return
    assert [v["jit_compile_requested"] for v in variants] == [True, False]
    assert [v["jit_compile"] for v in variants] == [True, False]
    fastest = min(variants, key=lambda variant: variant["ms"])
    assert row[phase]["ms"] == fastest["ms"] > 0
    assert row[phase]["jit_compile"] == row["jit_compile"][phase] == fastest["jit_compile"]


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
    torch backend beside torch.nn, eager (`--jit-compile best` times False alone on torch:
    True would be `torch.compile`), every padding and bidirectional; the toolkit's rows
    name the execution path they took; the limit is measured there too."""
    configs = ("base", "masked", "masked_left", "masked_holes", "bidirectional", "stacked")
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
        for phase in ("train", "infer"):
            assert len(row[phase]["variants"]) == 1 and row[phase]["limit_fraction"] > 0
        if row["framework"] != "torch":
            assert row["jit_compile"] == {"train": False, "infer": False}
        if row["framework"] == "toolkit":
            assert set(row["path"]) == {"train", "infer"}
            assert "n/a" not in row["path"].values()
    table = (tmp_path / "results.md").read_text()
    assert "backend torch on " in table and "with `jit_compile=False`: on torch" in table
    assert results["limits"]["square"]["gflops"] > 0
    assert "torch.matmul" in results["limits"]["libraries"]
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
    """Also a fixed `--jit-compile false`: one model per layer, its rows say so."""
    recurrent_layers.main(
        ["--quick", "--repeats", "1", "--warmup", "1", "--layers", "gru,simple"]
        + ["--configs", "length128,length2048", "--frameworks", "toolkit", "--out", str(tmp_path)]
        + ["--jit-compile", "false"]
    )
    results = json.loads((tmp_path / "results.json").read_text())
    for row in results["rows"]:
        assert row["jit_compile"] == {"train": False, "infer": False}
        assert [v["jit_compile_requested"] for v in row["train"]["variants"]] == [False]
    assert [(r["config"], r["layer"]) for r in results["rows"]] == [
        ("length128", "gru"),
        ("length128", "simple"),
        ("length2048", "gru"),
        ("length2048", "simple"),
    ]
    table = (tmp_path / "results.md").read_text()
    assert "compiled with `jit_compile=False` as requested" in table
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
    # Two bidirectional layers: the second reads both directions' 7 units.
    stacked = recurrent_layers.Config("x", 2, 3, 5, 7, bidirectional=True, layers=2)
    per_direction = 2 * (5 * 4 + 7 * 4) * 7 + 2 * (14 * 4 + 7 * 4) * 7
    assert stacked.forward_flops("lstm") == per_direction * tokens * 2


@pytest.mark.no_keras_state
def test_the_limit_is_measured_at_the_layers_own_shapes():
    base = next(config for config in recurrent_layers.FULL_CONFIGS if config.name == "base")
    projection, step = recurrent_layers.layer_shapes(base, "lstm")
    assert projection.describe() == "6400x128 @ 128x1024" and projection.kind == "projection"
    assert step.describe() == "64x256 @ 256x1024" and step.kind == "step"
    assert recurrent_layers.layer_shapes(base, "mingru")[1] is None  # no recurrent matmul
    assert projection.calls() == 1  # 1.7 GFLOP: one product per timed sample
    assert 1 < step.calls() <= recurrent_layers.MAX_CALLS  # 34 MFLOP: repeated


def test_matmul_rates_come_from_oned_nn_and_torch_not_numpy_on_a_cpu():
    libraries = recurrent_layers.matmul_libraries()
    expected = {"tf.matmul"} if importlib.util.find_spec("tensorflow") else set()
    if importlib.util.find_spec("torch"):
        expected.add("torch.matmul")
    assert set(libraries) == (expected or {"keras.ops.matmul"})
    shape = recurrent_layers.MatmulShape(8, 16, 32, "projection")
    rates = recurrent_layers.matmul_rates(shape, libraries, repeats=2)
    assert set(rates) == set(libraries) and min(rates.values()) > 0
    assert set(recurrent_layers.numpy_reference()) == {"numpy"}


def test_matmul_rate_on_an_accelerator_uses_the_backend_and_waits_for_the_result():
    """The branch a GPU run takes (here on the CPU: the branch is chosen by the device
    name, the arithmetic is the same)."""
    libraries = recurrent_layers.matmul_libraries(device="gpu:0")
    assert list(libraries) == ["keras.ops.matmul"] and "gpu:0" in libraries["keras.ops.matmul"][0]
    square = recurrent_layers.MatmulShape(64, 64, 64)
    assert recurrent_layers.matmul_rates(square, libraries, repeats=2)["keras.ops.matmul"] > 0


@pytest.mark.no_keras_state
def test_jit_compile_best_times_both_values_and_takes_the_faster():
    variants = recurrent_layers.jit_compile_variants
    assert variants("best", "tensorflow") == variants("best", "jax") == (True, False)
    assert variants("best", "torch") == (False,)  # True there is torch.compile
    assert variants(True, "tensorflow") == (True,) and variants("auto", "torch") == ("auto",)
    assert recurrent_layers.parse_args([]).jit_compile == "best"
    assert recurrent_layers.parse_args(["--jit-compile", "auto"]).jit_compile == "auto"
    assert recurrent_layers.parse_args(["--jit-compile", "true"]).jit_compile is True
    details = {
        True: {"jit_compile": True, "path": {"infer": "fused"}},
        False: {"jit_compile": False, "path": {"infer": "loop"}},
    }
    result = recurrent_layers.phase_result({True: 0.003, False: 0.002}, details, "infer")
    assert (result["ms"], result["jit_compile"], result["path"]) == (2.0, False, "loop")
    assert [v["ms"] for v in result["variants"]] == [3.0, 2.0]


def test_a_failed_jit_compile_variant_leaves_the_other(monkeypatch):
    """A model that fails with `jit_compile=True` (XLA cannot compile it, say) leaves its
    row to the `False` model; the table says which failed."""
    build = recurrent_layers.keras_model

    def no_xla(framework, layer, config, jit_compile, dtype_policy="float32"):
        if jit_compile is True:
            raise ValueError("no XLA here")
        return build(framework, layer, config, jit_compile, dtype_policy)

    monkeypatch.setattr(recurrent_layers, "keras_model", no_xla)
    (config,) = recurrent_layers.configs_for(["latency"], quick=True)
    settings = {"repeats": 1, "warmup": 1, "jit_compile": "best", "torch_device": "cpu"}
    data = recurrent_layers.make_data(config)
    (row,) = recurrent_layers.measure_group("gru", config, data, settings, ["keras"], (1, 1))
    assert row["status"] == "ok" and row["jit_compile"] == {"infer": False}
    assert row["jit_compile_failures"] == {"True": "failed: ValueError: no XLA here"}
    assert recurrent_layers.jit_variants_cell(row, "infer").startswith("failed / ")


def test_short_calls_take_more_timed_calls(monkeypatch):
    """`latency` (about 2 ms a call) is timed 6x `--repeats` calls, as its name says in
    the report; `--quick` keeps `--repeats` for every config."""
    (latency,) = recurrent_layers.configs_for(["latency"], quick=False)
    (base,) = recurrent_layers.configs_for(["base"], quick=False)
    (quick,) = recurrent_layers.configs_for(["latency"], quick=True)
    assert (latency.repeats_scale, base.repeats_scale, quick.repeats_scale) == (6, 1, 1)
    assert "6x the timed calls" in latency.describe()
    asked = []

    def medians(functions, repeats, warmup):
        asked.append(repeats)
        return {name: 0.001 for name in functions}, {}

    monkeypatch.setattr(recurrent_layers, "interleaved_medians", medians)
    config = dataclasses.replace(quick, repeats_scale=6)
    settings = {"repeats": 2, "warmup": 0, "jit_compile": "false", "torch_device": "cpu"}
    data = recurrent_layers.make_data(config)
    recurrent_layers.measure_group("gru", config, data, settings, ["keras"], (1, 1))
    assert asked == [12]


@pytest.mark.slow
def test_dtype_policies_are_timed_side_by_side(tmp_path):
    """`--dtype-policy float32,mixed_bfloat16`: one row per Keras-API framework and policy,
    the models running in that policy, ratios within a policy, a table of each framework's
    mixed_bfloat16 / float32 time and, on a CPU with TensorFlow, bfloat16 matmul rates."""
    recurrent_layers.main(
        ["--quick", "--repeats", "1", "--warmup", "1", "--layers", "gru"]
        + ["--configs", "base,latency", "--frameworks", "toolkit,keras", "--out", str(tmp_path)]
        + ["--jit-compile", "false", "--dtype-policy", "float32,mixed_bfloat16"]
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["settings"]["dtype_policies"] == ["float32", "mixed_bfloat16"]
    keys = [(r["config"], r["framework"], r["dtype_policy"], r["status"]) for r in results["rows"]]
    assert keys == [
        (config, framework, policy, "ok")
        for config in ("base", "latency")
        for framework in ("toolkit", "keras")
        for policy in ("float32", "mixed_bfloat16")
    ]
    ratios = {(r["config"], r["dtype_policy"]) for r in results["ratios"]}
    assert ratios == {(c, p) for c in ("base", "latency") for p in ("float32", "mixed_bfloat16")}
    table = (tmp_path / "results.md").read_text()
    assert "`--dtype-policy float32,mixed_bfloat16`" in table
    assert "| base | gru | toolkit mixed_bfloat16 |" in table
    side = table.split("Dtype policies side by side")[1]
    header, _, *lines = table_cells(side)
    assert header[-2:] == ["train mixed_bfloat16 / float32", "infer mixed_bfloat16 / float32"]
    assert [line[:3] for line in lines] == [
        [config, "gru", framework]
        for config in ("base", "latency")
        for framework in ("toolkit", "keras")
    ]
    assert all(float(line[-1]) > 0 for line in lines)
    if (
        importlib.util.find_spec("tensorflow") is not None
        and results["machine"]["backend"] != "torch"
    ):
        reference = results["limits"]["reference"]
        assert "tf.matmul bfloat16" in reference
        for entry in results["limits"]["shapes"]:  # every product, not a limit
            assert entry["gflops"]["tf.matmul bfloat16"] > 0
            assert entry["best_library"] != "tf.matmul bfloat16"


def test_a_model_runs_in_the_dtype_policy_asked_for():
    (config,) = recurrent_layers.configs_for(["masked"], quick=True)
    model, layer = recurrent_layers.keras_model("toolkit", "gru", config, False, "mixed_bfloat16")
    assert layer.dtype_policy.name == "mixed_bfloat16" and layer.variable_dtype == "float32"
    assert keras.backend.standardize_dtype(model.outputs[0].dtype) == "bfloat16"
    assert recurrent_layers.parse_args([]).dtype_policy == ["float32"]
    with pytest.raises(SystemExit):
        recurrent_layers.parse_args(["--dtype-policy", "mixed_float16"])
    assert recurrent_layers.row_keys(["toolkit", "torch"], ["float32", "mixed_bfloat16"]) == [
        ("toolkit", "float32"),
        ("toolkit", "mixed_bfloat16"),
        ("torch", "float32"),
    ]


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
    then on JAX the cuDNN tests and the benchmark with the extra arguments, then on torch
    the kernel tests and the same benchmark, PyTorch on the CPU where it sees no GPU; a
    failed step fails the script but does not stop the next one, except the install,
    which stops it."""
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
    backends = [call.split()[0] for call in calls if " -m " in call]
    assert backends == ["jax", "jax", "torch", "torch"]  # pytest, benchmark, on each backend
    assert any("-m pytest tests/layers/test_cudnn.py" in call for call in calls)
    assert any("-m pytest tests/layers/test_torch_kernels.py" in call for call in calls)
    benchmark = "-m benchmarks.recurrent_layers --torch-device cpu --out"
    assert any(call.endswith(f"{benchmark} {out}/benchmark --configs base") for call in calls)
    assert any(call.endswith(f"{benchmark} {out}/benchmark_torch --configs base") for call in calls)
    logs = {"test_cudnn.log", "benchmark.log", "test_torch_kernels.log", "benchmark_torch.log"}
    assert {p.name for p in out.iterdir()} == {"machine.txt"} | logs
    if failing != "nothing":
        logged = ("test_cudnn.log", "test_torch_kernels.log")
        if failing != "pytest":
            logged = ("benchmark.log", "benchmark_torch.log")
        assert all(f"{failing} failed" in (out / name).read_text() for name in logged)


def test_freed_memory_is_kept_for_reuse_unless_asked_otherwise(monkeypatch):
    calls = []
    monkeypatch.setattr(recurrent_layers, "reuse_freed_memory", lambda: calls.append(1) or True)
    assert recurrent_layers.parse_args([]).allocator == "reuse"
    assert recurrent_layers.apply_allocator("reuse") == "reuse" and calls == [1]
    assert recurrent_layers.apply_allocator("default") == "default" and calls == [1]
    monkeypatch.setattr(recurrent_layers, "reuse_freed_memory", lambda: False)  # not glibc
    assert recurrent_layers.apply_allocator("reuse") == "default"
    with pytest.raises(SystemExit):
        recurrent_layers.parse_args(["--allocator", "jemalloc"])
