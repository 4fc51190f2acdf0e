"""Benchmark suite: the toolkit's recurrent layers beside Keras' built-in ones and PyTorch.

Run (the full suite; several minutes on a 2-core CPU machine):

    python -m benchmarks.recurrent_layers
    python -m benchmarks.recurrent_layers --layers lstm,gru --configs base,masked
    python -m benchmarks.recurrent_layers --frameworks toolkit,keras --jit-compile true
    python -m benchmarks.recurrent_layers --quick        # tiny shapes, a smoke test
    KERAS_BACKEND=torch python -m benchmarks.recurrent_layers --layers lstm,gru \
        --configs base,masked,masked_left,masked_holes,bidirectional   # on PyTorch
    python -m benchmarks.recurrent_layers --layers gru,mingru --frameworks toolkit \
        --configs length128,length512,length2048     # the parallel scan against the GRU loop

Flags: `--layers` (default lstm, gru, simple; any cell name of `toolkit.layers.available()`
with a FLOP count in `MATMUL_WIDTHS`; Keras and PyTorch rows read "no such layer" for cells
they lack), `--configs` (below), `--frameworks` (toolkit, keras,
torch), `--repeats`, `--warmup`, `--jit-compile true|false|auto`, `--torch-device cpu|cuda`
(default cpu), `--out DIR` (default `runs/benchmarks/recurrent_layers/`, receives
`results.json` and `results.md`), `--quick`.

On a GPU (no TensorFlow needed): `KERAS_BACKEND=jax python -m benchmarks.recurrent_layers
--torch-device cuda` runs the Keras models on JAX's default device, the GPU, and PyTorch's
modules on cuDNN; the report names both devices.

On PyTorch: `KERAS_BACKEND=torch python -m benchmarks.recurrent_layers` runs the toolkit's
and Keras' layers on Keras' torch backend beside `torch.nn`, all three in the same torch
runtime (on a GPU the Keras models go to it by themselves; add `--torch-device cuda` for
`torch.nn`). The backend is Keras' usual environment variable, read when Keras is imported.
On torch `--jit-compile auto` resolves to False (eager, the Keras default there); `true`
compiles the Keras models' steps with `torch.compile`, which takes minutes on a CPU.

What is timed, for each configuration x layer x framework:

* the toolkit layer (`toolkit.layers.LSTM/GRU/SimpleRNN`) and Keras' own
  (`keras.layers.LSTM/GRU/SimpleRNN`), each alone in a `keras.Model` compiled identically
  (SGD, MSE; `jit_compile` as given, Keras' default `"auto"` otherwise): a training step is
  `model.train_on_batch`, inference is `model.predict_on_batch`;
* `torch.nn.LSTM/GRU/RNN`, eager, `torch.optim.SGD`, inference under `torch.no_grad()`.
  PyTorch is optional (`pip install torch`, CPU wheels suffice); without it its rows read
  "not installed". The suite runs on `KERAS_BACKEND=tensorflow`, `jax` and `torch`.

The loss is the same everywhere: the MSE of the layer's last output (`return_sequences=False`;
in PyTorch the final hidden state `h_n`, both directions concatenated) against fixed random
targets, so a training step is forward + backward through all time steps + an SGD update.

Configurations (`--configs`): `base` (batch 64, time 100, features 128, units 256), `long`
(batch 32, time 500, features 64, units 128), `masked` (base shapes; every other row is
padded to half length: Keras models get the mask from `keras.layers.Masking(0.0)` in front
of the layer, so the toolkit and Keras layers see the same mask; PyTorch gets
`pack_padded_sequence`, packed inside the timed step), `bidirectional` (base shapes;
`keras.layers.Bidirectional` around both Keras-API layers, `bidirectional=True` in
PyTorch) and `latency` (batch 1, time 100, features 128, units 256; inference only) run by
default; `masked_left` and `masked_holes` (the rows and valid steps of `masked`, with the
padding first, or with the masked steps spread out between a valid first and last step, so
that no right-padding fast path applies; `torch.nn` cannot skip such steps, its rows read
"n/a"), `length128`, `length512`, `length2048` (batch 16, features 64, units 128, that many
time steps) and `length128_units256`, ..., `length2048_units512` (the same with 256 or 512 units) on
request. With several `--layers`, the report adds a table of each toolkit
layer's times against the first one's; with `masked` and `masked_left` or `masked_holes`, a
table of each framework's left/right and holes/right time ratios.

Method: everything runs in one process, on the same shapes and the same input data (one
NumPy array per configuration, shared by all frameworks; weights are each framework's own
random initialisation). For one configuration and layer, each framework's timed function is
first called `--warmup` times (tracing and compilation happen there), then the frameworks are
timed in interleaved rounds, in an order rotating from round to round: per round one untimed
call, then 3 timed ones (`time.perf_counter`), until each has `--repeats` timings; each
framework's median is reported. Interleaving spreads a slow spell of a shared machine over
every framework, so the ratios hold when absolute times drift; the untimed call keeps the
timed ones a steady state rather than a cold switch from another framework (right after
PyTorch, a TensorFlow step ran up to a fifth slower).
Keras' `*_on_batch` calls return NumPy values, so each timed call includes waiting for the
result.

Reported: ms per step; tokens per second = tokens / seconds, where tokens = batch x time
(masked: the valid steps only, 3/4 of batch x time); the time ratio toolkit / peer
(below 1: the toolkit is faster), on each peer's row; the achieved GFLOP/s and its fraction
of the machine's matmul rate. That rate is measured in the same run by NumPy (its BLAS):
the median time of a float32 2048 x 2048 @ 2048 x 2048 product (`--quick`: 256), counted
as 2 N^3 FLOPs; where Keras computes on an accelerator, by `keras.ops.matmul` there, at
8192 x 8192, at the backend's default float32 matmul precision. A layer's FLOPs are
counted analytically from its gate matmuls only:

    forward FLOPs = 2 * (F * G_in + U * G_rec) * U * valid tokens * D
    training FLOPs = 3 * forward FLOPs (forward, gradient of inputs, gradient of weights)

with F features, U units, G_in and G_rec the widths of the input and recurrent matmuls in
units (`MATMUL_WIDTHS`: 4 and 4 for the LSTM and the one-head sLSTM, 3 and 3 for the GRU,
2 and 2 for MGU, 1 and 1 for SimpleRNN, 2 and 0 for MinGRU and 3 and 0 for MinLSTM, whose gates
read only the input), D = 2 if bidirectional
else 1, and valid tokens = batch x time, or when masked the unpadded steps only (the
useful work; a layer that computes padded steps too does not get credit for them).
Element-wise gate math, biases and the loss are not counted.

Also reported: for toolkit layers, the execution path the layer says it ran
(`layer.execution_path`, "n/a" if the layer does not expose it; the forward layer inside
`Bidirectional`), and the `jit_compile` value each Keras model resolved to (`model.jit_compile`
after its first step), so XLA or not is visible; PyTorch rows read "eager".

Timings on shared machines are noisy: compare ratios from one run, not absolute numbers
across runs, and do not run the suite while other heavy jobs run.
"""

import argparse
import dataclasses
import json
import pathlib
import re
import statistics
import sys
import time
import traceback

import keras
import numpy as np

import toolkit
from toolkit.runtime.machine import machine_info as shared_machine_info
from toolkit.runtime.timing import interleaved_timings

LAYERS = ("lstm", "gru", "simple")  # the default; `--layers` takes any name in MATMUL_WIDTHS
FRAMEWORKS = ("toolkit", "keras", "torch")
# Per cell name: (input projection width, recurrent matmul width), in units. The FLOP count
# of a layer is that of these matmuls; cells whose gates read only the input (MinGRU,
# MinLSTM) have no recurrent matmul.
MATMUL_WIDTHS = {
    "lstm": (4, 4),
    "gru": (3, 3),
    "simple": (1, 1),
    "mgu": (2, 2),
    # The benchmark builds sLSTM with its default single head; with h heads the
    # block-diagonal recurrent matmul is 4 / h units wide.
    "slstm": (4, 4),
    "mingru": (2, 0),
    "minlstm": (3, 0),
}
KERAS_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple": keras.layers.SimpleRNN,
}
TORCH_MODULES = {"lstm": "LSTM", "gru": "GRU", "simple": "RNN"}
TORCH_RIGHT_PADDING_ONLY = "n/a: torch.nn packs right-padded rows only"
DEFAULT_OUT = pathlib.Path("runs/benchmarks/recurrent_layers")
LEARNING_RATE = 0.01
BLOCK = 3  # timed calls per framework per interleaved round (see `interleaved_medians`)


# ---------------------------------------------------------------- configurations


@dataclasses.dataclass(frozen=True)
class Config:
    """One benchmark shape and variant."""

    name: str
    batch: int
    time: int
    features: int
    units: int
    padding: str | None = None  # "right", "left" or "holes": where a masked row's padding is
    bidirectional: bool = False
    train: bool = True

    @property
    def masked(self):
        return self.padding is not None

    @property
    def directions(self):
        return 2 if self.bidirectional else 1

    def lengths(self):
        """Valid steps per row: every other row has half of them when masked."""
        lengths = np.full(self.batch, self.time, dtype="int64")
        if self.masked:
            lengths[1::2] = max(1, self.time // 2)
        return lengths

    def step_mask(self):
        """`(batch, time)` booleans, True at valid steps: `lengths()` of them per row, at
        the start (right padding), at the end (left padding) or spread evenly from the
        first step to the last (holes)."""
        lengths = self.lengths()
        steps = np.arange(self.time)
        if self.padding == "left":
            return steps[None, :] >= (self.time - lengths)[:, None]
        if self.padding == "holes":
            # Spaced at least one step apart, so rounding keeps `length` distinct steps.
            spread = [np.round(np.linspace(0, self.time - 1, length)) for length in lengths]
            return np.stack([np.isin(steps, valid) for valid in spread])
        return steps[None, :] < lengths[:, None]

    def tokens(self):
        return int(self.lengths().sum())

    def forward_flops(self, layer):
        input_width, recurrent_width = MATMUL_WIDTHS[layer]
        per_token = 2 * (self.features * input_width + self.units * recurrent_width) * self.units
        return per_token * self.tokens() * self.directions

    def describe(self):
        text = f"batch {self.batch}, time {self.time}, features {self.features}, "
        text += f"units {self.units}"
        if self.masked:
            text += f", every other row {PADDING_TEXT[self.padding]}"
        if self.bidirectional:
            text += ", bidirectional"
        if not self.train:
            text += ", inference only"
        return text


PADDING_TEXT = {
    "right": "padded to half length",
    "left": "left-padded to half length",
    "holes": "with half its steps masked, spread from its first step to its last",
}
FULL_CONFIGS = (
    Config("base", 64, 100, 128, 256),
    Config("long", 32, 500, 64, 128),
    Config("masked", 64, 100, 128, 256, padding="right"),
    # The same valid steps as `masked`, placed where no right-padding fast path applies.
    Config("masked_left", 64, 100, 128, 256, padding="left"),
    Config("masked_holes", 64, 100, 128, 256, padding="holes"),
    Config("bidirectional", 64, 100, 128, 256, bidirectional=True),
    Config("latency", 1, 100, 128, 256, train=False),
    # Sequence length against cost: recurrent loops grow linearly in time steps, a
    # parallel scan (MinGRU, MinLSTM) in depth only logarithmically.
    Config("length128", 16, 128, 64, 128),
    Config("length512", 16, 512, 64, 128),
    Config("length2048", 16, 2048, 64, 128),
    # The same at 256 units: the GRU's recurrent matmul grows with units^2, the scan's
    # input projections with features x units.
    Config("length128_units256", 16, 128, 64, 256),
    Config("length512_units256", 16, 512, 64, 256),
    Config("length2048_units256", 16, 2048, 64, 256),
    Config("length128_units512", 16, 128, 64, 512),
    Config("length512_units512", 16, 512, 64, 512),
    Config("length2048_units512", 16, 2048, 64, 512),
)
DEFAULT_CONFIGS = ("base", "long", "masked", "bidirectional", "latency")
QUICK_SHAPES = {"batch": 4, "time": 6, "features": 3, "units": 4}


def configs_for(names, quick):
    """The selected configurations, shrunk to tiny shapes for `--quick`."""
    selected = [config for config in FULL_CONFIGS if config.name in names]
    if not quick:
        return selected
    return [
        dataclasses.replace(config, **{**QUICK_SHAPES, "batch": min(config.batch, 4)})
        for config in selected
    ]


@dataclasses.dataclass(frozen=True)
class Data:
    """The inputs every framework sees for one configuration."""

    inputs: np.ndarray  # (batch, time, features) float32; padded steps are zeros
    lengths: np.ndarray  # (batch,) int64 valid steps (torch.nn packs right-padded rows)
    targets: np.ndarray  # (batch, directions * units) float32


def make_data(config, seed=0):
    rng = np.random.default_rng(seed)
    shape = (config.batch, config.time, config.features)
    inputs = rng.normal(size=shape).astype("float32")
    lengths = config.lengths()
    inputs[~config.step_mask()] = 0.0
    targets = rng.normal(size=(config.batch, config.directions * config.units))
    return Data(inputs, lengths, targets.astype("float32"))


# ---------------------------------------------------------------- timing


def median_seconds(function, repeats, warmup):
    """Median wall-clock seconds of `function()` over `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def keras_device():
    """The device Keras' backend computes on by default, e.g. `"cpu:0"` or `"gpu:0"`
    (on torch `"cpu:0"` or `"cuda:0"`)."""
    if keras.backend.backend() == "torch":
        # keras.distribution has no torch implementation: ask a tensor where it lives.
        device = keras.ops.zeros(()).device
        return f"{device.type}:{device.index or 0}"
    return keras.distribution.list_devices()[0]


def matmul_rate(size, repeats, device="cpu:0"):
    """The float32 matmul rate on `device`: median of `size`^3 products, in GFLOP/s.

    On the CPU by NumPy (its BLAS); on an accelerator by `keras.ops.matmul` on the
    backend's arrays, each timed product waiting for its result (the sum of its entries
    fetched, a cost negligible beside the product at accelerator sizes).
    """
    rng = np.random.default_rng(1)
    a = rng.normal(size=(size, size)).astype("float32")
    b = rng.normal(size=(size, size)).astype("float32")
    library = f"numpy {np.__version__}"
    product = lambda: a @ b
    if not device.startswith("cpu"):
        library = f"keras.ops.matmul ({keras.backend.backend()}, {device})"
        a, b = keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)
        product = lambda: keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.matmul(a, b)))
    seconds = median_seconds(product, repeats, warmup=1)
    return {
        "library": library,
        "shape": f"{size}x{size} @ {size}x{size} float32",
        "repeats": repeats,
        "median_seconds": seconds,
        "gflops": 2 * size**3 / seconds / 1e9,
    }


# ---------------------------------------------------------------- Keras-API layers


def keras_model(framework, layer, config, jit_compile):
    """A compiled model of one recurrent layer; returns it and the recurrent layer itself."""
    layer_class = toolkit.layers.get(layer) if framework == "toolkit" else KERAS_LAYERS[layer]
    recurrent = layer_class(config.units)
    wrapped = keras.layers.Bidirectional(recurrent) if config.bidirectional else recurrent
    inputs = keras.Input((config.time, config.features), batch_size=config.batch)
    features = keras.layers.Masking(0.0)(inputs) if config.masked else inputs
    model = keras.Model(inputs, wrapped(features))
    model.compile(
        optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="mse", jit_compile=jit_compile
    )
    running = wrapped.forward_layer if config.bidirectional else wrapped
    return model, running


def execution_path(layer):
    return str(getattr(layer, "execution_path", "n/a"))


def prepare_keras(framework, layer, config, data, settings):
    """The timed functions of one Keras-API layer, and a function reporting how it ran."""
    model, running = keras_model(framework, layer, config, settings["jit_compile"])
    phases = {"infer": lambda: model.predict_on_batch(data.inputs)}
    if config.train:
        phases["train"] = lambda: model.train_on_batch(data.inputs, data.targets)
    paths = {}

    def record_path(phase):
        paths[phase] = execution_path(running)

    def details():
        return {"path": paths, "jit_compile": model.jit_compile}

    return phases, record_path, details


# ---------------------------------------------------------------- PyTorch


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_forward(torch, module, config, data, device):
    """A function returning the last output: `h_n` of each direction, concatenated."""
    inputs = torch.from_numpy(data.inputs).to(device)
    lengths = torch.from_numpy(data.lengths)  # packing wants the lengths on the CPU
    pack = torch.nn.utils.rnn.pack_padded_sequence

    def forward():
        sequence = inputs
        if config.padding == "right":
            sequence = pack(inputs, lengths, batch_first=True, enforce_sorted=False)
        _, state = module(sequence)
        last = state[0] if isinstance(state, tuple) else state  # (directions, batch, units)
        return last.transpose(0, 1).reshape(config.batch, -1)

    return forward


def prepare_torch(layer, config, data, device="cpu"):
    """The timed functions of one PyTorch module (train: forward, backward, SGD step).

    On `device="cuda"` (cuDNN's kernels) each function waits for the GPU to finish
    (`torch.cuda.synchronize`), as the Keras functions wait for their NumPy results.
    """
    torch = import_torch()
    module = getattr(torch.nn, TORCH_MODULES[layer])(
        config.features, config.units, batch_first=True, bidirectional=config.bidirectional
    ).to(device)
    optimizer = torch.optim.SGD(module.parameters(), lr=LEARNING_RATE)
    forward = torch_forward(torch, module, config, data, device)
    targets = torch.from_numpy(data.targets).to(device)
    wait = torch.cuda.synchronize if device == "cuda" else lambda: None

    def train():
        optimizer.zero_grad()
        loss = ((forward() - targets) ** 2).mean()
        loss.backward()
        optimizer.step()
        wait()

    def infer():
        with torch.no_grad():
            forward()
        wait()

    phases = {"infer": infer}
    if config.train:
        phases["train"] = train
    return phases, lambda phase: None, lambda: {"path": {}, "jit_compile": "eager"}


# ---------------------------------------------------------------- one measurement


def prepare(framework, layer, config, data, settings):
    if framework == "torch":
        return prepare_torch(layer, config, data, settings["torch_device"])
    return prepare_keras(framework, layer, config, data, settings)


def interleaved_medians(functions, repeats, warmup, block=BLOCK):
    """Median seconds of each named function, timed in interleaved rounds.

    `toolkit.runtime.timing.interleaved_timings` takes the timings: every function in
    turn, in an order rotating from round to round, one untimed call and then up to
    `block` timed ones per round. A function that raises is dropped; returns
    `(medians, errors)`, `errors` mapping the dropped names to their exceptions.
    """
    timings, errors = interleaved_timings(functions, repeats, warmup, block)
    return {name: statistics.median(values) for name, values in timings.items() if values}, errors


def measure_group(layer, config, data, settings, frameworks, peak_gflops):
    """The rows of one configuration and layer: every framework timed in interleaved rounds.

    A failure is recorded in its framework's row, not raised, so the suite goes on.
    """
    rows = {
        framework: {"config": config.name, "layer": layer, "framework": framework}
        for framework in frameworks
    }
    prepared = {}
    for framework in frameworks:
        if framework != "toolkit" and layer not in KERAS_LAYERS:
            rows[framework]["status"] = "no such layer"
            continue
        if framework == "torch" and config.padding in ("left", "holes"):
            rows[framework]["status"] = TORCH_RIGHT_PADDING_ONLY
            continue
        if framework == "torch" and import_torch() is None:
            rows[framework]["status"] = "not installed"
            continue
        try:
            prepared[framework] = prepare(framework, layer, config, data, settings)
        except Exception as error:  # reported in the row and on stderr
            traceback.print_exc()
            rows[framework]["status"] = f"failed: {type(error).__name__}: {error}"
    for phase, multiplier in (("train", 3), ("infer", 1)):
        functions = {
            framework: phases[phase]
            for framework, (phases, _, _) in prepared.items()
            if phase in phases
        }
        if not functions:
            continue
        medians, errors = interleaved_medians(functions, settings["repeats"], settings["warmup"])
        for framework, error in errors.items():
            rows[framework]["status"] = f"failed: {type(error).__name__}: {error}"
            prepared.pop(framework)
        for framework, seconds in medians.items():
            prepared[framework][1](phase)
            gflops = multiplier * config.forward_flops(layer) / seconds / 1e9
            rows[framework][phase] = {
                "ms": seconds * 1e3,
                "tokens_per_s": config.tokens() / seconds,
                "gflops": gflops,
                "peak_fraction": gflops / peak_gflops,
            }
    for framework, (_, _, details) in prepared.items():
        rows[framework].update(status="ok", **details())
    return [rows[framework] for framework in frameworks]


def add_ratios(rows):
    """Per row, the time ratio toolkit / this framework (same config, layer and phase)."""
    toolkit_rows = {(r["config"], r["layer"]): r for r in rows if r["framework"] == "toolkit"}
    for row in rows:
        ours = toolkit_rows.get((row["config"], row["layer"]))
        row["toolkit_over_this"] = {
            phase: ours[phase]["ms"] / row[phase]["ms"]
            for phase in ("train", "infer")
            if ours is not None and phase in ours and phase in row
        }


def ratio_summary(rows):
    """The toolkit / Keras and toolkit / PyTorch time ratios, one entry per config x layer."""
    summary = []
    for row in rows:
        if row["framework"] == "toolkit" or not row.get("toolkit_over_this"):
            continue
        summary.append(
            {
                "config": row["config"],
                "layer": row["layer"],
                "ratio": f"toolkit/{row['framework']}",
                **row["toolkit_over_this"],
            }
        )
    return summary


# ---------------------------------------------------------------- machine and report


def machine_info(torch_device="cpu"):
    torch = import_torch()
    info = {
        **shared_machine_info(("keras", "tensorflow", "jax", "torch", "numpy")),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "keras_device": keras_device(),
        "torch_device": torch_device,
    }
    if torch_device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def number(value, spec):
    return "-" if value is None else format(value, spec)


def phase_cells(row, phase):
    values = row.get(phase, {})
    return [
        number(values.get("ms"), ".2f"),
        number(values.get("tokens_per_s"), ",.0f"),
        number(row.get("toolkit_over_this", {}).get(phase), ".2f"),
        number(values.get("gflops"), ".2f"),
        number(values.get("peak_fraction"), ".1%").rstrip("%"),
    ]


def path_cell(row):
    paths = row.get("path", {})
    if not paths:
        return "-"
    if len(set(paths.values())) == 1:
        return next(iter(paths.values()))
    return " / ".join(f"{phase}: {path}" for phase, path in paths.items())


TABLE_HEADER = (
    "config",
    "layer",
    "framework",
    "train ms",
    "train tok/s",
    "train toolkit/this",
    "train GFLOP/s",
    "train % peak",
    "infer ms",
    "infer tok/s",
    "infer toolkit/this",
    "infer GFLOP/s",
    "infer % peak",
    "path",
    "jit_compile",
)


def status_cell(status, limit=200):
    """A row's status on one table line: a failure's message (in full in `results.json`)
    can span lines and carry terminal colours and `|`, as Keras' and dynamo's do."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", status).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def table_row(row):
    if row["status"] != "ok":
        cells = [row["config"], row["layer"], row["framework"], status_cell(row["status"])]
        return cells + ["-"] * 11
    cells = [row["config"], row["layer"], row["framework"]]
    cells += phase_cells(row, "train") + phase_cells(row, "infer")
    return cells + [path_cell(row), str(row["jit_compile"])]


def markdown_report(results):
    machine, matmul = results["machine"], results["matmul"]
    lines = [
        "# Recurrent layers: toolkit vs Keras vs PyTorch",
        "",
        f"{machine['date']}, backend {machine['backend']} on {machine['keras_device']}, "
        f"PyTorch on {machine['torch_device']}"
        + (f" ({machine['gpu']})" if "gpu" in machine else "")
        + f", {machine['cpu']}, "
        f"os.cpu_count() {machine['os_cpu_count']}, "
        + ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
        + ".",
        f"Median of {results['settings']['repeats']} repeats after "
        f"{results['settings']['warmup']} warm-up calls; jit_compile requested: "
        f"{results['settings']['jit_compile']}. Matmul peak ({matmul['library']}, "
        f"{matmul['shape']}): {matmul['gflops']:.1f} GFLOP/s. "
        "toolkit/this: time ratio, below 1 the toolkit is faster. Frameworks: `toolkit` "
        "(`toolkit.layers`) and `keras` (`keras.layers`) on the backend, `torch` "
        "(`torch.nn`) eager.",
        "",
    ]
    lines += [f"* `{name}`: {text}" for name, text in results["configs"].items()]
    lines += ["", "| " + " | ".join(TABLE_HEADER) + " |"]
    lines.append("|" + " --- |" * len(TABLE_HEADER))
    lines += ["| " + " | ".join(table_row(row)) + " |" for row in results["rows"]]
    lines += layers_side_by_side(results["rows"]) + paddings_side_by_side(results["rows"])
    return "\n".join(lines) + "\n"


def layers_side_by_side(rows):
    """With several layers: each toolkit layer's train and inference time against the first."""
    ours = [row for row in rows if row["framework"] == "toolkit" and row["status"] == "ok"]
    layers = list(dict.fromkeys(row["layer"] for row in ours))
    if len(layers) < 2:
        return []
    first = layers[0]
    lines = [
        "",
        f"Toolkit layers side by side (time ratio to `{first}`, below 1 faster):",
        "",
        "| config | layer | train ms | train / " + first + " | infer ms | infer / " + first + " |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    reference = {row["config"]: row for row in ours if row["layer"] == first}
    for row in ours:
        base = reference.get(row["config"], {})
        cells = [row["config"], row["layer"]]
        for phase in ("train", "infer"):
            ms = row.get(phase, {}).get("ms")
            base_ms = base.get(phase, {}).get("ms")
            ratio = ms / base_ms if ms is not None and base_ms else None
            cells += [number(ms, ".2f"), number(ratio, ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def paddings_side_by_side(rows):
    """With `masked` and `masked_left` or `masked_holes`: each framework's time on left
    padding and on holes against right padding (the same valid steps per row)."""
    padding = {config.name: config.padding for config in FULL_CONFIGS if config.masked}
    groups = {}  # (layer, framework) -> {padding: row}
    for row in rows:
        if row["config"] in padding:
            groups.setdefault((row["layer"], row["framework"]), {})[padding[row["config"]]] = row
    if not any("right" in group and len(group) > 1 for group in groups.values()):
        return []
    lines = [
        "",
        "Paddings side by side (time ratio to right padding `masked`, the same valid steps; "
        "below 1 faster):",
        "",
        "| layer | framework | train ms right | train left/right | train holes/right "
        "| infer ms right | infer left/right | infer holes/right |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (layer, framework), group in groups.items():
        right = group.get("right", {})
        cells = [layer, framework]
        for phase in ("train", "infer"):
            right_ms = right.get(phase, {}).get("ms")
            cells.append(number(right_ms, ".2f"))
            for other in ("left", "holes"):
                row = group.get(other, {})
                if row.get("status", "").startswith("n/a"):
                    cells.append("n/a")
                    continue
                ms = row.get(phase, {}).get("ms")
                cells.append(number(ms / right_ms if ms and right_ms else None, ".2f"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# ---------------------------------------------------------------- command line


def name_list(choices):
    def parse(text):
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = sorted(set(names) - set(choices))
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}; got {text!r}"
            )
        return names

    return parse


def jit_compile_value(text):
    values = {"true": True, "false": False, "auto": "auto"}
    if text not in values:
        raise argparse.ArgumentTypeError(f"expected true, false or auto; got {text!r}")
    return values[text]


def parse_args(argv):
    config_names = tuple(config.name for config in FULL_CONFIGS)
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    layer_names = tuple(name for name in toolkit.layers.available() if name in MATMUL_WIDTHS)
    parser.add_argument("--layers", type=name_list(layer_names), default=list(LAYERS))
    parser.add_argument("--configs", type=name_list(config_names), default=list(DEFAULT_CONFIGS))
    parser.add_argument("--frameworks", type=name_list(FRAMEWORKS), default=list(FRAMEWORKS))
    parser.add_argument("--repeats", type=int, help="timed calls (default 10, --quick 2)")
    parser.add_argument("--warmup", type=int, help="untimed calls first (default 2, --quick 1)")
    parser.add_argument("--jit-compile", type=jit_compile_value, default="auto")
    parser.add_argument(
        "--torch-device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the PyTorch modules run (default cpu; cuda: cuDNN's kernels)",
    )
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="tiny shapes: a smoke test")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 10
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be at least 1 and --warmup at least 0")
    return args


def run_suite(args):
    """All selected measurements in this process; returns the results dictionary."""
    configs = configs_for(args.configs, args.quick)
    settings = {
        "repeats": args.repeats,
        "warmup": args.warmup,
        "jit_compile": args.jit_compile,
        "quick": args.quick,
        "torch_device": args.torch_device,
    }
    if args.torch_device == "cuda" and "torch" in args.frameworks:
        torch = import_torch()
        if torch is None or not torch.cuda.is_available():
            raise SystemExit("--torch-device cuda: PyTorch sees no CUDA device here")
    device = keras_device()
    size = 256 if args.quick else (2048 if device.startswith("cpu") else 8192)
    matmul = matmul_rate(size, repeats=3 if args.quick else 10, device=device)
    print(f"matmul rate ({matmul['library']}): {matmul['gflops']:.1f} GFLOP/s", file=sys.stderr)
    rows = []
    for config in configs:
        data = make_data(config)
        for layer in args.layers:
            group = measure_group(layer, config, data, settings, args.frameworks, matmul["gflops"])
            for row in group:
                print(f"{config.name} {layer} {row['framework']}: {row['status']}", file=sys.stderr)
            rows.extend(group)
    add_ratios(rows)
    return {
        "machine": machine_info(args.torch_device),
        "settings": settings,
        "matmul": matmul,
        "configs": {config.name: config.describe() for config in configs},
        "rows": rows,
        "ratios": ratio_summary(rows),
    }


def write_results(results, out):
    out.mkdir(parents=True, exist_ok=True)
    report = markdown_report(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(report)
    return report


def main(argv=None):
    args = parse_args(argv)
    results = run_suite(args)
    print(write_results(results, args.out))
    return 0


if __name__ == "__main__":
    from recipes.runner.errors import run_command

    sys.exit(run_command(main, prog="python -m benchmarks.recurrent_layers"))
