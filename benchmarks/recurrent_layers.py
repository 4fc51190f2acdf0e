"""Benchmark suite: the toolkit's recurrent layers beside Keras' built-in ones and PyTorch.

Run (the full suite; several minutes on a 2-core CPU machine):

    python -m benchmarks.recurrent_layers
    python -m benchmarks.recurrent_layers --layers lstm,gru --configs base,masked
    python -m benchmarks.recurrent_layers --frameworks toolkit,keras --jit-compile auto
    python -m benchmarks.recurrent_layers --quick        # tiny shapes, a smoke test
    KERAS_BACKEND=torch python -m benchmarks.recurrent_layers --layers lstm,gru \
        --configs base,masked,masked_left,masked_holes,bidirectional   # on PyTorch
    python -m benchmarks.recurrent_layers --layers gru,mingru --frameworks toolkit \
        --configs length128,length512,length2048     # the parallel scan against the GRU loop

Flags: `--layers` (default lstm, gru, simple; any cell name of `toolkit.layers.available()`
with a FLOP count in `MATMUL_WIDTHS`; Keras and PyTorch rows read "no such layer" for cells
they lack), `--configs` (below), `--frameworks` (toolkit, keras, torch), `--repeats`,
`--warmup`, `--jit-compile best|true|false|auto` (default best, below), `--torch-device
cpu|cuda` (default cpu), `--dtype-policy float32|mixed_bfloat16|float32,mixed_bfloat16`
(default float32, below), `--out DIR` (default `runs/benchmarks/recurrent_layers/`,
receives `results.json` and `results.md`), `--quick`.

On a GPU (no TensorFlow needed): `KERAS_BACKEND=jax python -m benchmarks.recurrent_layers
--torch-device cuda` runs the Keras models on JAX's default device, the GPU, and PyTorch's
modules on cuDNN; the report names both devices.

On PyTorch: `KERAS_BACKEND=torch python -m benchmarks.recurrent_layers` runs the toolkit's
and Keras' layers on Keras' torch backend beside `torch.nn`, all three in the same torch
runtime (on a GPU the Keras models go to it by themselves; add `--torch-device cuda` for
`torch.nn`). The backend is Keras' usual environment variable, read when Keras is imported.
On torch `--jit-compile best` and `auto` run False alone (eager, the Keras default
there); `true` compiles the Keras models' steps with `torch.compile`, which takes minutes
on a CPU, so it is measured apart, on request.

What is timed, for each configuration x layer x framework:

* the toolkit layer (`toolkit.layers.LSTM/GRU/SimpleRNN`) and Keras' own
  (`keras.layers.LSTM/GRU/SimpleRNN`), each alone in a `keras.Model` compiled identically
  (SGD, MSE): a training step is `model.train_on_batch`, inference is
  `model.predict_on_batch`. With `--jit-compile best` (the default) each is built twice,
  with `jit_compile=True` and with `False` (on torch False alone), both timed in the same
  interleaved rounds, and its row takes the faster one, phase by phase, for its time,
  rates and ratios: every peer at its best setting, both times shown (on JAX `False` runs
  the step op by op, far slower: it costs run time). `true`, `false` and `auto` (Keras'
  default) build one model with that value;
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
PyTorch), `stacked` (base shapes; two bidirectional layers, the lower one returning
sequences: the recipes' models; `num_layers=2` in PyTorch) and `latency` (batch 1, time
100, features 128, units 256; inference only; timed 6x `--repeats` calls, cheap at about 2
ms a call, whose ratios spread from 0.92 to 1.35 over runs of 10) run by default;
`masked_left` and `masked_holes` (the rows and valid steps of `masked`, with the
padding first, or with the masked steps spread out between a valid first and last step, so
that no right-padding fast path applies; `torch.nn` cannot skip such steps, its rows read
"n/a"), `length128`, `length512`, `length2048` (batch 16, features 64, units 128, that many
time steps) and `length128_units256`, ..., `length2048_units512` (the same with 256 or 512 units) on
request. With several `--layers`, the report adds a table of each toolkit
layer's times against the first one's; with `masked` and `masked_left` or `masked_holes`, a
table of each framework's left/right and holes/right time ratios.

Method: everything runs in one process, on the same shapes and the same input data (one
NumPy array per configuration, shared by all frameworks; weights are each framework's own
random initialisation). For one configuration and layer, each model's timed function (every
`jit_compile` variant and the PyTorch module) is first called `--warmup` times (tracing and
compilation happen there), then they are timed in interleaved rounds, in orders that put
each model right after every other equally often: per round a 50 ms pause, one untimed
call, then 3 timed ones (`time.perf_counter`), until each has `--repeats` timings; each
model's median is reported. Interleaving spreads a slow spell of a shared machine over
every model, so the ratios hold when absolute times drift; the untimed call keeps the
timed ones a steady state rather than a cold switch from another framework (right after
PyTorch, a TensorFlow step ran up to a fifth slower), and the pause lets PyTorch's OpenMP
workers, which spin on the cores for milliseconds after a call, go to sleep first
(`toolkit.runtime.timing.interleaved_timings`).
Keras' `*_on_batch` calls return NumPy values, so each timed call includes waiting for the
result. Freed memory is kept in the process for reuse, for every framework alike
(`--allocator reuse`, the default: `toolkit.runtime.reuse_freed_memory`, as the recipes'
commands do); with glibc's defaults PyTorch's training steps fault their large buffers in
again at every step (`--allocator default` measures that).

Reported: ms per step; tokens per second = tokens / seconds, where tokens = batch x time
(masked: the valid steps only, 3/4 of batch x time); the time ratio toolkit / peer
(below 1: the toolkit is faster), on each peer's row; the achieved GFLOP/s and its fraction
of the limit, the float32 matmul rate measured in the same run (`measure_limits`):

* `% limit`: of the best of `tf.matmul` (oneDNN; whenever TensorFlow can be imported, on any
  backend) and `torch.matmul` (whenever PyTorch can) at the layer's own input projection,
  `(batch * time, features) @ (features, G_in * units)`;
* `% square`: of their best at a large square, 2048 and 4096 (`--quick`: 128 and 256).

Both libraries are also timed at one recurrent step, `(batch, units) @ (units, G_rec *
units)`, a call at a time, so its rate includes a call's overhead: shown, not a limit.
NumPy is timed at the squares for reference only: its BLAS may run older kernels than the
CPU has (issue 31 found OpenBLAS pinned to Haswell's by `OPENBLAS_CORETYPE`, at about half
of oneDNN's rate; the report names the kernels it ran). Each rate is the median of samples
taken in interleaved rounds as the layers are, a small product repeated within a sample.
Where Keras computes on an accelerator the limit is `keras.ops.matmul` there (at the
backend's default float32 precision) and `torch.matmul` on cuda with `--torch-device
cuda`, the square 8192. A layer's FLOPs are counted analytically from its gate matmuls only:

    forward FLOPs = 2 * (F * G_in + U * G_rec) * U * valid tokens * D
    training FLOPs = 3 * forward FLOPs (forward, gradient of inputs, gradient of weights)

with F features, U units, G_in and G_rec the widths of the input and recurrent matmuls in
units (`MATMUL_WIDTHS`: 4 and 4 for the LSTM and the one-head sLSTM, 3 and 3 for the GRU,
2 and 2 for MGU, 1 and 1 for SimpleRNN, 2 and 0 for MinGRU and 3 and 0 for MinLSTM, whose gates
read only the input), D = 2 if bidirectional
else 1, summed over stacked layers (F = D * U above the first), and valid tokens =
batch x time, or when masked the unpadded steps only (the
useful work; a layer that computes padded steps too does not get credit for them).
Element-wise gate math, biases and the loss are not counted.

Also reported: for toolkit layers, the execution path the layer says it ran
(`layer.execution_path`, "n/a" if the layer does not expose it; the forward layer inside
`Bidirectional`), and the `jit_compile` value each row's time ran with (`model.jit_compile`
after its first step, per phase), so XLA or not is visible; PyTorch rows read "eager". A
variant that fails is named in its row (`jit_compile_failures`) and the other one stands.

Mixed precision (`--dtype-policy`): each Keras-API model is built with the recurrent layer's
(and the `Masking` layer's) `dtype` set to each policy named, `float32` and
`mixed_bfloat16` (variables float32, compute bfloat16: oneDNN's AVX512_BF16 kernels on a CPU
that has them), e.g. `--dtype-policy float32,mixed_bfloat16 --frameworks toolkit,keras`:
every policy's models are timed in the same interleaved rounds, one row per framework and
policy (the framework column reads `toolkit mixed_bfloat16`), and a table gives each
framework's mixed_bfloat16 / float32 time ratio. `toolkit/this` compares rows of the same
policy (`torch.nn` runs float32 only and is compared with the toolkit's first policy).
`tf.matmul` in bfloat16 is then timed at every product of the limits table beside the
float32 libraries, for reference: a row's `% limit` stays a share of the float32 limit.

Timings on shared machines are noisy: compare ratios from one run, not absolute numbers
across runs, and do not run the suite while other heavy jobs run.
"""

import argparse
import dataclasses
import pathlib
import re
import statistics
import sys
import traceback

import keras
import numpy as np

import toolkit
from benchmarks.reports import write_results
from toolkit.runtime import reuse_freed_memory
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
DTYPE_POLICIES = ("float32", "mixed_bfloat16")  # `--dtype-policy`
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
    layers: int = 1  # stacked recurrent layers, all but the last returning sequences
    # Timed calls as a multiple of `--repeats`: a call of about 2 ms (batch 1) is cheap to
    # repeat, and its ratios spread from 0.92 to 1.35 between runs of 10 (issue 31).
    repeats_scale: int = 1

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
        flops = 0
        for index in range(self.layers):  # layers above the first read both directions
            features = self.features if index == 0 else self.directions * self.units
            flops += 2 * (features * input_width + self.units * recurrent_width) * self.units
        return flops * self.tokens() * self.directions

    def describe(self):
        text = f"batch {self.batch}, time {self.time}, features {self.features}, "
        text += f"units {self.units}"
        if self.repeats_scale > 1:
            text += f", {self.repeats_scale}x the timed calls"
        if self.masked:
            text += f", every other row {PADDING_TEXT[self.padding]}"
        if self.bidirectional:
            text += ", bidirectional"
        if self.layers > 1:
            text += f", {self.layers} layers"
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
    # The recipes' models: stacked bidirectional layers (a speedup of one layer alone
    # may not survive there: docs/performance.md, "Training in time chunks").
    Config("stacked", 64, 100, 128, 256, bidirectional=True, layers=2),
    Config("latency", 1, 100, 128, 256, train=False, repeats_scale=6),
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
DEFAULT_CONFIGS = ("base", "long", "masked", "bidirectional", "stacked", "latency")
QUICK_SHAPES = {"batch": 4, "time": 6, "features": 3, "units": 4}


def configs_for(names, quick):
    """The selected configurations, shrunk to tiny shapes for `--quick`."""
    selected = [config for config in FULL_CONFIGS if config.name in names]
    if not quick:
        return selected
    return [
        dataclasses.replace(
            config, **{**QUICK_SHAPES, "batch": min(config.batch, 4), "repeats_scale": 1}
        )
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


# ---------------------------------------------------------------- the limit: matmul rates


def keras_device():
    """The device Keras' backend computes on by default, e.g. `"cpu:0"` or `"gpu:0"`
    (on torch `"cpu:0"` or `"cuda:0"`)."""
    if keras.backend.backend() == "torch":
        # keras.distribution has no torch implementation: ask a tensor where it lives.
        device = keras.ops.zeros(()).device
        return f"{device.type}:{device.index or 0}"
    return keras.distribution.list_devices()[0]


# The large squares the limit is also measured at, by where Keras computes.
SQUARE_SIZES = {"cpu": (2048, 4096), "accelerator": (8192,), "quick": (128, 256)}
SAMPLE_FLOPS = 2e9  # a timed sample of a small product repeats it up to about this many FLOPs
MAX_CALLS = 100  # ... in at most this many calls


@dataclasses.dataclass(frozen=True)
class MatmulShape:
    """A float32 product `(rows, inner) @ (inner, columns)` and what it stands for."""

    rows: int
    inner: int
    columns: int
    kind: str = "square"  # "square", "projection" (a layer's inputs) or "step" (its state)

    @property
    def flops(self):
        return 2 * self.rows * self.inner * self.columns

    def describe(self):
        return f"{self.rows}x{self.inner} @ {self.inner}x{self.columns}"

    def calls(self):
        """Products per timed sample: a small product is repeated until the sample holds
        about `SAMPLE_FLOPS` (at most `MAX_CALLS` calls), so each call's overhead counts
        as it does in a layer's loop and the timer's resolution does not."""
        return int(min(MAX_CALLS, max(1, round(SAMPLE_FLOPS / self.flops))))


def layer_shapes(config, layer):
    """The matmuls of `layer` at `config`: the input projection of the whole sequence,
    `(batch * time, features) @ (features, input width * units)`, and one recurrent step,
    `(batch, units) @ (units, recurrent width * units)` (None for a cell without one)."""
    input_width, recurrent_width = MATMUL_WIDTHS[layer]
    tokens = config.batch * config.time
    projection = MatmulShape(tokens, config.features, input_width * config.units, "projection")
    if not recurrent_width:
        return projection, None
    return projection, MatmulShape(
        config.batch, config.units, recurrent_width * config.units, "step"
    )


def import_tensorflow():
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf


def tensorflow_matmul(tf, dtype="float32"):
    """`tf.matmul` on the CPU (oneDNN's kernels), eager: a CPU op returns when done. With
    `dtype="bfloat16"` both factors are cast to it first (untimed)."""
    on_cpu = tf.device("/CPU:0") if tf.config.list_physical_devices("GPU") else None

    def make(a, b):
        if on_cpu is None:
            a, b = tf.constant(a, dtype), tf.constant(b, dtype)
            return lambda: tf.matmul(a, b)
        with on_cpu:
            a, b = tf.constant(a, dtype), tf.constant(b, dtype)

        def product():
            with on_cpu:
                tf.matmul(a, b)

        return product

    return make


def torch_matmul(torch, device):
    """`torch.matmul` on `device`; on cuda each product waits for the GPU."""

    def make(a, b):
        a, b = torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)
        if device == "cpu":
            return lambda: torch.matmul(a, b)

        def product():
            torch.matmul(a, b)
            torch.cuda.synchronize()

        return product

    return make


def keras_matmul(a, b):
    """`keras.ops.matmul` on the backend's default device, waiting for the result (the sum
    of its entries fetched, a cost negligible beside the product at accelerator sizes)."""
    a, b = keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)
    return lambda: keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.matmul(a, b)))


def numpy_matmul(a, b):
    return lambda: a @ b


def matmul_libraries(device="cpu:0", torch_device="cpu"):
    """The products whose best rate is the limit: `{name: (description, make)}`, where
    `make(a, b)` takes two float32 NumPy arrays and returns a function that computes their
    product once and waits for it.

    Where Keras computes on the CPU: `tf.matmul` (oneDNN) whenever TensorFlow can be
    imported, on any Keras backend, and `torch.matmul` whenever PyTorch can. On an
    accelerator: `keras.ops.matmul` there (the backend's default float32 precision), and
    `torch.matmul` on cuda with `torch_device="cuda"`. With none of these, `keras.ops.matmul`.
    NumPy is not among them: its BLAS may run generic kernels (here OpenBLAS pinned to
    Haswell's, about half the machine); `numpy_reference` times it beside, for reference.
    """
    libraries = {}
    torch = import_torch()
    if device.startswith("cpu"):
        tf = import_tensorflow()
        if tf is not None:
            description = f"tensorflow {tf.__version__}, oneDNN, CPU"
            libraries["tf.matmul"] = (description, tensorflow_matmul(tf))
        if torch is not None:
            description = f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads"
            libraries["torch.matmul"] = (description, torch_matmul(torch, "cpu"))
    elif torch is not None and torch_device == "cuda":
        description = f"torch {torch.__version__}, cuda, TF32 "
        description += "on" if torch.backends.cuda.matmul.allow_tf32 else "off"
        libraries["torch.matmul"] = (description, torch_matmul(torch, "cuda"))
    if not device.startswith("cpu") or not libraries:
        description = f"{keras.backend.backend()} on {device}, its default float32 precision"
        libraries = {"keras.ops.matmul": (description, keras_matmul), **libraries}
    return libraries


def numpy_reference():
    """NumPy's product, `{"numpy": (description, make)}`: the description names its BLAS
    and the kernels it picked, where `threadpoolctl` can tell."""
    description = f"numpy {np.__version__}"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"numpy": (description + ", its BLAS", numpy_matmul)}
    for library in threadpool_info():
        # NumPy's own: torch or TensorFlow may have loaded another BLAS into the process.
        if library.get("user_api") == "blas" and "numpy" in library.get("filepath", ""):
            description += f", {library['internal_api']} {library['version']}"
            if library.get("architecture"):
                description += f" ({library['architecture']} kernels)"
            description += f", {library['num_threads']} threads"
            break
    return {"numpy": (description, numpy_matmul)}


def bfloat16_reference(dtype_policies, device="cpu:0"):
    """`{"tf.matmul bfloat16": (description, make)}` when `mixed_bfloat16` is measured on a
    CPU and TensorFlow can be imported, else `{}`: a reference beside the limit, not one."""
    tf = import_tensorflow()
    if "mixed_bfloat16" not in dtype_policies or not device.startswith("cpu") or tf is None:
        return {}
    description = f"tensorflow {tf.__version__}, oneDNN, CPU, bfloat16 inputs and output"
    return {"tf.matmul bfloat16": (description, tensorflow_matmul(tf, "bfloat16"))}


def matmul_rates(shape, libraries, repeats, warmup=1):
    """GFLOP/s of each library's product at `shape`: the median of samples of
    `shape.calls()` products each, the libraries timed in interleaved rounds as the layers
    are. Returns `{name: GFLOP/s}`; a library that fails is left out (traceback on stderr).
    """
    rng = np.random.default_rng(1)
    a = rng.normal(size=(shape.rows, shape.inner)).astype("float32")
    b = rng.normal(size=(shape.inner, shape.columns)).astype("float32")
    calls = shape.calls()
    samples = {}
    for name, (_, make) in libraries.items():
        try:
            product = make(a, b)
        except Exception:  # e.g. out of memory on a small accelerator: the others go on
            traceback.print_exc()
            continue

        def sample(product=product):
            for _ in range(calls):
                product()

        samples[name] = sample
    medians, _ = interleaved_medians(samples, repeats, warmup)
    return {name: calls * shape.flops / seconds / 1e9 for name, seconds in medians.items()}


def measure_limits(
    configs, layers, repeats, quick, device="cpu:0", torch_device="cpu", dtype_policies=()
):
    """The limit every row is measured against, from matmul rates taken in this run.

    At each large square (`SQUARE_SIZES`) and at each layer's own shapes (`layer_shapes`:
    the input projection, one recurrent step), every library of `matmul_libraries` is
    timed; at the squares NumPy too, for reference. A row's limit is the best library's
    rate at its layer's input-projection shape, the largest matmul the layer makes (a
    recurrent step is timed call by call, so its rate includes a call's overhead: shown,
    not a limit); the square limit is the best rate at any square. With `mixed_bfloat16`
    in `dtype_policies`, `bfloat16_reference` is timed at every product too, as a reference.

    Returns a JSON-ready dict: `libraries` and `reference` (name -> description),
    `shapes` (one entry per product: `shape`, `kind`, `calls` per sample, `gflops` per
    library, the `best` limit library's rate and its name, `used_by` config-layer names),
    `square` (the best square: `shape`, `gflops`, `library`) and `layers`
    (`"config layer"` -> its `projection` and `step` shapes and `limit_gflops`, the
    projection's best rate).
    """
    libraries = matmul_libraries(device, torch_device)
    low_precision = bfloat16_reference(dtype_policies, device)
    reference = {**numpy_reference(), **low_precision}
    where = "quick" if quick else ("cpu" if device.startswith("cpu") else "accelerator")
    wanted = {MatmulShape(size, size, size): [] for size in SQUARE_SIZES[where]}
    layer_entries = {}
    for config in configs:
        for layer in layers:
            projection, step = layer_shapes(config, layer)
            name = f"{config.name} {layer}"
            layer_entries[name] = {
                "projection": projection.describe(),
                "step": step.describe() if step else None,
            }
            for shape in (projection, step):
                if shape is not None:
                    wanted.setdefault(shape, []).append(name)
    shapes = []
    for shape, used_by in wanted.items():
        square = shape.kind == "square"
        timed = {**libraries, **reference} if square else {**libraries, **low_precision}
        rates = matmul_rates(shape, timed, repeats)
        limit_rates = {name: rate for name, rate in rates.items() if name in libraries}
        best = max(limit_rates, key=limit_rates.get, default=None)
        shapes.append(
            {
                "shape": shape.describe(),
                "kind": shape.kind,
                "calls": shape.calls(),
                "gflops": rates,
                "best": limit_rates.get(best),
                "best_library": best,
                "used_by": used_by,
            }
        )
        rate_text = ", ".join(f"{name} {rate:.1f}" for name, rate in rates.items())
        print(f"matmul {shape.describe()} ({shape.kind}): {rate_text} GFLOP/s", file=sys.stderr)
    squares = [entry for entry in shapes if entry["kind"] == "square" and entry["best"]]
    best_square = max(squares, key=lambda entry: entry["best"], default=None)
    projection_rates = {e["shape"]: e["best"] for e in shapes if e["kind"] == "projection"}
    for entry in layer_entries.values():
        entry["limit_gflops"] = projection_rates.get(entry["projection"])
    return {
        "libraries": {name: description for name, (description, _) in libraries.items()},
        "reference": {name: description for name, (description, _) in reference.items()},
        "repeats": repeats,
        "shapes": shapes,
        "square": best_square
        and {
            "shape": best_square["shape"],
            "gflops": best_square["best"],
            "library": best_square["best_library"],
        },
        "layers": layer_entries,
    }


def limit_of(limits, config_name, layer):
    """`(projection limit, square limit)` in GFLOP/s for one config and layer (None where
    nothing was measured)."""
    square = limits["square"] or {}
    return limits["layers"][f"{config_name} {layer}"]["limit_gflops"], square.get("gflops")


# ---------------------------------------------------------------- Keras-API layers


def keras_model(framework, layer, config, jit_compile, dtype_policy="float32"):
    """A compiled model of `config.layers` recurrent layers (each inside `Bidirectional`
    when the config is), its layers under `dtype_policy`; returns it and the first
    recurrent layer (its forward half inside `Bidirectional`), whose path is reported."""
    layer_class = toolkit.layers.get(layer) if framework == "toolkit" else KERAS_LAYERS[layer]
    inputs = keras.Input((config.time, config.features), batch_size=config.batch)
    features = inputs
    if config.masked:
        features = keras.layers.Masking(0.0, dtype=dtype_policy)(inputs)
    stack = []
    for index in range(config.layers):
        sequences = index < config.layers - 1
        wrapped = layer_class(config.units, return_sequences=sequences, dtype=dtype_policy)
        if config.bidirectional:
            wrapped = keras.layers.Bidirectional(wrapped, dtype=dtype_policy)
        features = wrapped(features)
        stack.append(wrapped)
    model = keras.Model(inputs, features)
    model.compile(
        optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="mse", jit_compile=jit_compile
    )
    running = stack[0].forward_layer if config.bidirectional else stack[0]
    return model, running


def execution_path(layer):
    return str(getattr(layer, "execution_path", "n/a"))


def prepare_keras(framework, layer, config, data, jit_compile, dtype_policy="float32"):
    """The timed functions of one Keras-API layer, and a function reporting how it ran."""
    model, running = keras_model(framework, layer, config, jit_compile, dtype_policy)
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
        last = state[0] if isinstance(state, tuple) else state  # (layers * directions, ...)
        last = last[-config.directions :]  # the top layer's: (directions, batch, units)
        return last.transpose(0, 1).reshape(config.batch, -1)

    return forward


def prepare_torch(layer, config, data, device="cpu"):
    """The timed functions of one PyTorch module (train: forward, backward, SGD step).

    On `device="cuda"` (cuDNN's kernels) each function waits for the GPU to finish
    (`torch.cuda.synchronize`), as the Keras functions wait for their NumPy results.
    """
    torch = import_torch()
    module = getattr(torch.nn, TORCH_MODULES[layer])(
        config.features,
        config.units,
        num_layers=config.layers,
        batch_first=True,
        bidirectional=config.bidirectional,
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


def jit_compile_variants(setting, backend=None):
    """The `jit_compile` values each Keras-API model is built with: for `"best"` both
    True and False on TensorFlow and JAX, False alone on torch (True there is
    `torch.compile`, minutes of compiling on a CPU: asked for with `true`); otherwise the
    one value asked for."""
    if setting != "best":
        return (setting,)
    return (False,) if (backend or keras.backend.backend()) == "torch" else (True, False)


def prepare(framework, layer, config, data, settings, jit_compile, dtype_policy="float32"):
    if framework == "torch":
        return prepare_torch(layer, config, data, settings["torch_device"])
    return prepare_keras(framework, layer, config, data, jit_compile, dtype_policy)


def row_keys(frameworks, dtype_policies):
    """`(framework, dtype policy)` of each row: a Keras-API framework once per policy,
    `torch.nn` once, in float32."""
    return [
        (framework, policy)
        for framework in frameworks
        for policy in (("float32",) if framework == "torch" else dtype_policies)
    ]


def interleaved_medians(functions, repeats, warmup, block=BLOCK):
    """Median seconds of each named function, timed in interleaved rounds.

    `toolkit.runtime.timing.interleaved_timings` takes the timings: every function in
    turn, each after every other equally often, a pause, one untimed call and then up
    to `block` timed ones per round. A function that raises is dropped; returns
    `(medians, errors)`, `errors` mapping the dropped names to their exceptions.
    """
    timings, errors = interleaved_timings(functions, repeats, warmup, block)
    return {name: statistics.median(values) for name, values in timings.items() if values}, errors


def failure(error):
    return f"failed: {type(error).__name__}: {error}"


def measure_group(layer, config, data, settings, frameworks, limits):
    """The rows of one configuration and layer: every framework timed in interleaved rounds.

    Each Keras-API framework (toolkit, keras) runs one model per `jit_compile_variants`
    value and per dtype policy (`settings["dtype_policies"]`, default float32 alone; one
    row per framework and policy, `row_keys`), `torch.nn` one eager float32 module, all of
    them timed in the same rounds. Per phase a row takes its fastest variant (its
    `jit_compile`) and lists every variant's time (`variants`). `limits` is `(projection
    limit, square limit)` in GFLOP/s (`limit_of`). A failure is recorded in its row, not
    raised, so the suite goes on: a failed variant in `jit_compile_failures`, the row's
    status only when every variant failed.
    """
    policies = settings.get("dtype_policies", ("float32",))
    keys = row_keys(frameworks, policies)
    rows = {
        (framework, policy): {
            "config": config.name,
            "layer": layer,
            "framework": framework,
            "dtype_policy": policy,
        }
        for framework, policy in keys
    }
    prepared = {}  # (framework, policy, requested jit_compile) -> (phases, record_path, details)
    failures = {key: {} for key in keys}  # str(requested) -> failure
    for framework, policy in keys:
        row = rows[framework, policy]
        if framework != "toolkit" and layer not in KERAS_LAYERS:
            row["status"] = "no such layer"
            continue
        if framework == "torch" and config.padding in ("left", "holes"):
            row["status"] = TORCH_RIGHT_PADDING_ONLY
            continue
        if framework == "torch" and import_torch() is None:
            row["status"] = "not installed"
            continue
        variants = ("eager",)
        if framework != "torch":
            variants = jit_compile_variants(settings["jit_compile"])
        for jit_compile in variants:
            try:
                prepared[framework, policy, jit_compile] = prepare(
                    framework, layer, config, data, settings, jit_compile, policy
                )
            except Exception as error:  # reported in the row and on stderr
                traceback.print_exc()
                failures[framework, policy][str(jit_compile)] = failure(error)
    for phase, multiplier in (("train", 3), ("infer", 1)):
        functions = {
            key: phases[phase] for key, (phases, _, _) in prepared.items() if phase in phases
        }
        if not functions:
            continue
        repeats = settings["repeats"] * config.repeats_scale
        medians, errors = interleaved_medians(functions, repeats, settings["warmup"])
        for (framework, policy, jit_compile), error in errors.items():
            failures[framework, policy][str(jit_compile)] = failure(error)
            prepared.pop((framework, policy, jit_compile))
        for key in medians:
            prepared[key][1](phase)
        flops = multiplier * config.forward_flops(layer)
        for key in keys:
            timed = {name[2]: seconds for name, seconds in medians.items() if name[:2] == key}
            if timed:
                details = {jit: prepared[(*key, jit)][2]() for jit in timed}
                result = phase_result(timed, details, phase)
                result.update(rates(flops, config.tokens(), limits, result["ms"] / 1e3))
                rows[key][phase] = result
    for key in keys:
        row = rows[key]
        if "status" in row:
            continue
        phases = [phase for phase in ("train", "infer") if phase in row]
        alive = any(prepared_key[:2] == key for prepared_key in prepared)
        row["status"] = "ok" if alive else next(iter(failures[key].values()))
        paths = {phase: row[phase].pop("path") for phase in phases}
        row["path"] = {phase: path for phase, path in paths.items() if path is not None}
        row["jit_compile"] = {phase: row[phase]["jit_compile"] for phase in phases}
        if failures[key]:
            row["jit_compile_failures"] = failures[key]
    return [rows[key] for key in keys]


def phase_result(seconds, details, phase):
    """One phase of a row from each variant's median `seconds` and `details()` (keyed by
    the requested `jit_compile`): the fastest variant's time, the `jit_compile` it ran
    and its execution path, and every variant's time."""
    best = min(seconds, key=seconds.get)
    variants = [
        {"jit_compile_requested": jit, "jit_compile": details[jit]["jit_compile"], "ms": s * 1e3}
        for jit, s in seconds.items()
    ]
    return {
        "ms": seconds[best] * 1e3,
        "jit_compile": details[best]["jit_compile"],
        "path": details[best]["path"].get(phase),  # None for torch.nn
        "variants": variants,
    }


def rates(flops, tokens, limits, seconds):
    """Tokens/s, GFLOP/s and the GFLOP/s as a fraction of each limit (None if unmeasured)."""
    gflops = flops / seconds / 1e9
    limit, square = limits
    return {
        "tokens_per_s": tokens / seconds,
        "gflops": gflops,
        "limit_fraction": gflops / limit if limit else None,
        "square_fraction": gflops / square if square else None,
    }


def row_policy(row):
    return row.get("dtype_policy", "float32")


def add_ratios(rows):
    """Per row, the time ratio toolkit / this framework (same config, layer, phase and dtype
    policy; a row of a policy the toolkit was not timed in, such as torch.nn's float32 in a
    mixed_bfloat16-only run, against the toolkit's first policy)."""
    toolkit_rows = {}
    for row in rows:
        if row["framework"] == "toolkit":
            toolkit_rows.setdefault((row["config"], row["layer"]), row)
            toolkit_rows[row["config"], row["layer"], row_policy(row)] = row
    for row in rows:
        ours = toolkit_rows.get((row["config"], row["layer"], row_policy(row)))
        ours = ours or toolkit_rows.get((row["config"], row["layer"]))
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
                "dtype_policy": row_policy(row),
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


def percent(value):
    return "-" if value is None else f"{100 * value:.1f}"


def jit_variants_cell(row, phase):
    """A phase's time with `jit_compile` True, then False (`"-"` with one variant): a
    variant that ran otherwise than asked says so, a failed one reads "failed"."""
    variants = {v["jit_compile_requested"]: v for v in row.get(phase, {}).get("variants", [])}
    failed = row.get("jit_compile_failures", {})
    if len(variants) + len(failed) < 2:
        return "-"
    cells = []
    for requested in (True, False):
        if requested not in variants:
            cells.append("failed" if str(requested) in failed else "-")
            continue
        variant = variants[requested]
        text = f"{variant['ms']:.2f}"
        if variant["jit_compile"] != requested:
            text += f" (ran {variant['jit_compile']})"
        cells.append(text)
    return " / ".join(cells)


def phase_cells(row, phase):
    values = row.get(phase, {})
    return [
        number(values.get("ms"), ".2f"),
        jit_variants_cell(row, phase),
        number(values.get("tokens_per_s"), ",.0f"),
        number(row.get("toolkit_over_this", {}).get(phase), ".2f"),
        number(values.get("gflops"), ".2f"),
        f"{percent(values.get('limit_fraction'))} / {percent(values.get('square_fraction'))}"
        if values
        else "-",
    ]


def per_phase_cell(values):
    """One value for both phases, or `train: a / infer: b`; `"-"` for none."""
    if not values:
        return "-"
    if len(set(map(str, values.values()))) == 1:
        return str(next(iter(values.values())))
    return " / ".join(f"{phase}: {value}" for phase, value in values.items())


TABLE_HEADER = (
    "config",
    "layer",
    "framework",
    "train ms",
    "train ms jit on / off",
    "train tok/s",
    "train toolkit/this",
    "train GFLOP/s",
    "train % limit / % square",
    "infer ms",
    "infer ms jit on / off",
    "infer tok/s",
    "infer toolkit/this",
    "infer GFLOP/s",
    "infer % limit / % square",
    "path",
    "jit_compile",
)


def status_cell(status, limit=200):
    """A row's status on one table line: a failure's message (in full in `results.json`)
    can span lines and carry terminal colours and `|`, as Keras' and dynamo's do."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", status).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def framework_cell(row):
    """The framework, and its dtype policy when not float32: `toolkit mixed_bfloat16`."""
    policy = row_policy(row)
    return row["framework"] if policy == "float32" else f"{row['framework']} {policy}"


def table_row(row):
    cells = [row["config"], row["layer"], framework_cell(row)]
    if row["status"] != "ok":
        cells.append(status_cell(row["status"]))
        return cells + ["-"] * (len(TABLE_HEADER) - len(cells))
    cells += phase_cells(row, "train") + phase_cells(row, "infer")
    return cells + [per_phase_cell(row.get("path")), per_phase_cell(row.get("jit_compile"))]


def rules(results):
    """The report's header paragraph: how each number was taken."""
    settings, limits = results["settings"], results["limits"]
    requested = settings["jit_compile"]
    variants = jit_compile_variants(requested, results["machine"]["backend"])
    if len(variants) == 2:
        jit_rule = (
            "Each Keras-API model (`toolkit`, `keras`) is built and timed twice, with "
            "`jit_compile=True` and `False`, both in the same interleaved rounds; per phase "
            "its row takes the faster (`jit_compile` column) for its time, rates and ratios, "
            "and shows both (`ms jit on / off`)."
        )
    elif requested == "best":
        jit_rule = (
            "The Keras-API models run with `jit_compile=False`: on torch `True` is "
            "`torch.compile`, minutes of compiling on a CPU, measured with `--jit-compile true`."
        )
    else:
        jit_rule = (
            f"The Keras-API models are compiled with `jit_compile={requested}` as requested "
            "(not the best of True and False); the `jit_compile` column shows what it resolved to."
        )
    timing_rule = (
        f"Times: medians of {settings['repeats']} timed calls per model and phase (a "
        "multiple of them where a config says so) after "
        f"{settings['warmup']} warm-up call(s), every model of a config and layer taken in "
        "interleaved rounds (each model right after every other equally often; per round a "
        f"pause, one untimed call, then up to {BLOCK} timed ones); `toolkit/this` is the time "
        "ratio, below 1 the toolkit is faster. Freed memory: "
        + ALLOCATOR_RULES[settings.get("allocator", "default")]
    )
    square = limits["square"]
    square_text = (
        f"{square['gflops']:.1f} GFLOP/s, {square['library']} at {square['shape']}"
        if square
        else "not measured"
    )
    limit_rule = (
        "The limit: float32 matmul rates measured in this run (table below) with "
        + ", ".join(f"{name} ({text})" for name, text in limits["libraries"].items())
        + ". `% limit` is a row's GFLOP/s as a share of the best of them at the layer's input "
        "projection `(batch * time, features) @ (features, gates * units)`; `% square` as a "
        f"share of the best at a large square ({square_text}). GFLOP/s counts the gate "
        "matmuls only (forward `2 (F G_in + U G_rec) U` per valid token and direction, "
        "training 3x). NumPy ("
        + ", ".join(limits["reference"].values())
        + ") is timed at the squares for reference only: it is not the limit."
    )
    frameworks = (
        "Frameworks: `toolkit` (`toolkit.layers`) and `keras` (`keras.layers`) on the "
        "backend, `torch` (`torch.nn`) eager."
    )
    policies = settings.get("dtype_policies", ["float32"])
    if policies != ["float32"]:
        frameworks += (
            " Dtype policies: "
            + ", ".join(f"`{policy}`" for policy in policies)
            + " (the Keras-API layers' `dtype`, timed in the same rounds; `torch.nn` float32); "
            "`toolkit/this` compares rows of the same policy, and `% limit` stays a share of "
            "the float32 limit (bfloat16 matmul rates in the table below, for reference)."
        )
    return " ".join((jit_rule, timing_rule, limit_rule, frameworks))


MATMUL_KINDS = {
    "square": "large square",
    "projection": "input projection",
    "step": "one recurrent step (call overhead included: not a limit)",
}


def limits_table(limits):
    """The matmul rates behind `% limit`: one line per product and library."""
    names = list(limits["libraries"]) + list(limits["reference"])
    lines = [
        "",
        f"Matmul rates, GFLOP/s (float32 unless named; medians of {limits['repeats']} "
        "interleaved samples, a small product repeated in each sample; "
        + ", ".join(limits["reference"])
        + ": reference, not a limit):",
        "",
        "| product | kind | " + " | ".join(names) + " | limit | used by |",
        "|" + " --- |" * (len(names) + 4),
    ]
    for entry in limits["shapes"]:
        cells = [entry["shape"], MATMUL_KINDS[entry["kind"]]]
        cells += [number(entry["gflops"].get(name), ".1f") for name in names]
        cells.append("-" if entry["kind"] == "step" else number(entry["best"], ".1f"))
        cells.append(", ".join(entry["used_by"]) or "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown_report(results):
    machine = results["machine"]
    lines = [
        "# Recurrent layers: toolkit vs Keras vs PyTorch",
        "",
        f"{machine['date']}, backend {machine['backend']} on {machine['keras_device']}, "
        f"PyTorch on {machine['torch_device']}"
        + (f" ({machine['gpu']})" if "gpu" in machine else "")
        + f", {machine['cpu']}, "
        f"os.cpu_count() {machine['os_cpu_count']}, "
        + ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
        + f"; `--jit-compile {jit_compile_text(results['settings']['jit_compile'])}`"
        + f", `--dtype-policy {','.join(results['settings'].get('dtype_policies', ['float32']))}`.",
        "",
        rules(results),
        "",
    ]
    lines += [f"* `{name}`: {text}" for name, text in results["configs"].items()]
    lines += ["", "| " + " | ".join(TABLE_HEADER) + " |"]
    lines.append("|" + " --- |" * len(TABLE_HEADER))
    lines += ["| " + " | ".join(table_row(row)) + " |" for row in results["rows"]]
    lines += limits_table(results["limits"])
    lines += layers_side_by_side(results["rows"]) + paddings_side_by_side(results["rows"])
    lines += policies_side_by_side(results["rows"])
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
    reference = {(row["config"], row_policy(row)): row for row in ours if row["layer"] == first}
    for row in ours:
        base = reference.get((row["config"], row_policy(row)), {})
        layer = (
            row["layer"] if row_policy(row) == "float32" else f"{row['layer']} {row_policy(row)}"
        )
        cells = [row["config"], layer]
        for phase in ("train", "infer"):
            ms = row.get(phase, {}).get("ms")
            base_ms = base.get(phase, {}).get("ms")
            ratio = ms / base_ms if ms is not None and base_ms else None
            cells += [number(ms, ".2f"), number(ratio, ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def policies_side_by_side(rows):
    """With several dtype policies: each framework's time under each policy against float32."""
    groups = {}  # (config, layer, framework) -> {policy: row}
    for row in rows:
        if row["status"] == "ok" and row["framework"] != "torch":
            key = (row["config"], row["layer"], row["framework"])
            groups.setdefault(key, {})[row_policy(row)] = row
    others = sorted({p for group in groups.values() for p in group if p != "float32"})
    if not others or not any("float32" in group and len(group) > 1 for group in groups.values()):
        return []
    header = "| config | layer | framework | train ms float32 | infer ms float32 |"
    for policy in others:
        header += f" train {policy} / float32 | infer {policy} / float32 |"
    lines = [
        "",
        "Dtype policies side by side (time ratio to float32, the same models otherwise; "
        "below 1 faster):",
        "",
        header,
        "|" + " --- |" * (5 + 2 * len(others)),
    ]
    for (config, layer, framework), group in groups.items():
        base = group.get("float32", {})
        cells = [config, layer, framework]
        cells += [number(base.get(phase, {}).get("ms"), ".2f") for phase in ("train", "infer")]
        for policy in others:
            for phase in ("train", "infer"):
                ms = group.get(policy, {}).get(phase, {}).get("ms")
                base_ms = base.get(phase, {}).get("ms")
                cells.append(number(ms / base_ms if ms and base_ms else None, ".2f"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def paddings_side_by_side(rows):
    """With `masked` and `masked_left` or `masked_holes`: each framework's time on left
    padding and on holes against right padding (the same valid steps per row)."""
    padding = {config.name: config.padding for config in FULL_CONFIGS if config.masked}
    groups = {}  # (layer, framework) -> {padding: row}
    for row in rows:
        if row["config"] in padding:
            key = (row["layer"], framework_cell(row))
            groups.setdefault(key, {})[padding[row["config"]]] = row
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


JIT_COMPILE_VALUES = {"best": "best", "true": True, "false": False, "auto": "auto"}


def jit_compile_value(text):
    if text not in JIT_COMPILE_VALUES:
        raise argparse.ArgumentTypeError(f"expected best, true, false or auto; got {text!r}")
    return JIT_COMPILE_VALUES[text]


def jit_compile_text(value):
    """The flag's text for a `--jit-compile` value: `best`, `true`, `false` or `auto`."""
    return value if isinstance(value, str) else str(value).lower()


ALLOCATOR_RULES = {
    "reuse": "kept in the process for reuse (`toolkit.runtime.reuse_freed_memory`, as the "
    "recipes' commands do), for every framework alike.",
    "default": "the C library's defaults (`--allocator default`): large buffers are given "
    "back when freed and faulted in again at the next step.",
}


def add_allocator_argument(parser):
    parser.add_argument(
        "--allocator",
        choices=("reuse", "default"),
        default="reuse",
        help="reuse (default): keep freed memory in the process for reuse, for every "
        "framework (toolkit.runtime.reuse_freed_memory, as the recipes do); default: the C "
        "library's settings",
    )


def apply_allocator(choice):
    """Sets the process's allocator as `--allocator` asks; returns what is in effect.

    The benchmark's processes keep freed memory for reuse by default, as the recipes'
    commands do and as PyTorch's CPU tuning advice (a caching allocator) amounts to: with
    the C library's defaults each training step faults its large buffers in again, page by
    page, which cost `torch.nn.LSTM`'s `base` training step a third (45 against 66 ms) and
    the toolkit's and Keras' layers little (docs/performance.md). The setting is
    process-wide, so it applies to every framework timed. Where it cannot be set (not
    glibc) the defaults stay, and the report says so.
    """
    if choice == "reuse" and reuse_freed_memory():
        return "reuse"
    return "default"


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
    parser.add_argument(
        "--jit-compile",
        type=jit_compile_value,
        default="best",
        help="best (default: each Keras-API model timed with True and with False, the faster "
        "one taken; False alone on torch), true, false or auto (Keras' default)",
    )
    parser.add_argument(
        "--torch-device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the PyTorch modules run (default cpu; cuda: cuDNN's kernels)",
    )
    parser.add_argument(
        "--dtype-policy",
        type=name_list(DTYPE_POLICIES),
        default=["float32"],
        help="the Keras-API models' dtype policies, comma-separated: float32 (default), "
        "mixed_bfloat16, or both (timed side by side in the same rounds)",
    )
    add_allocator_argument(parser)
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
        "dtype_policies": args.dtype_policy,
        "allocator": apply_allocator(args.allocator),
    }
    if args.torch_device == "cuda" and "torch" in args.frameworks:
        torch = import_torch()
        if torch is None or not torch.cuda.is_available():
            raise SystemExit("--torch-device cuda: PyTorch sees no CUDA device here")
    device = keras_device()
    limits = measure_limits(
        configs, args.layers, args.repeats, args.quick, device, args.torch_device, args.dtype_policy
    )
    rows = []
    for config in configs:
        data = make_data(config)
        for layer in args.layers:
            limit = limit_of(limits, config.name, layer)
            group = measure_group(layer, config, data, settings, args.frameworks, limit)
            for row in group:
                print(
                    f"{config.name} {layer} {framework_cell(row)}: {row['status']}", file=sys.stderr
                )
            rows.extend(group)
    add_ratios(rows)
    return {
        "machine": machine_info(args.torch_device),
        "settings": settings,
        "limits": limits,
        "configs": {config.name: config.describe() for config in configs},
        "rows": rows,
        "ratios": ratio_summary(rows),
    }


def main(argv=None):
    args = parse_args(argv)
    results = run_suite(args)
    print(write_results(results, args.out, markdown_report))
    return 0


if __name__ == "__main__":
    from recipes.runner.errors import run_command

    sys.exit(run_command(main, prog="python -m benchmarks.recurrent_layers"))
