"""Serving speed of the recipes: each exported SavedModel beside its `.keras` model.

For each recipe (text_classification, translation, speech_tagging) and one trained run
folder, it times in one process, on the first `--items` inputs of the run's test split:

* the SavedModel (`<run>/saved_model/`, `tf.saved_model.load`) called through the recipe's
  serving signature (`serve`, `translate`, `tag`), as a server would: batches of the
  recipe's serving batch size (below), and one input at a time (batch-1 latency);
* the `.keras` model loaded by the recipe's own code (`export.load_run`, i.e.
  `keras.models.load_model`) and run as the recipe's commands run it: text
  classification `TextClassifier.predict` (`predict` command), translation
  `Translator.translate` (tokenization in `tf.data`, the compiled search with the run's
  beam width, detokenization in Python; `translate` command), speech tagging
  `tag_signals` (padded NumPy batches, `predict_on_batch`, segments in Python; `tag`
  command), on the same batches.

Run:

    python -m benchmarks.serving                          # trains each recipe briefly first
    python -m benchmarks.serving --runs translation=runs/translation --recipes translation
    python -m benchmarks.serving --items 128 --repeats 3 --out /tmp/serving

Without a `--runs NAME=DIR` for a recipe, the recipe is trained first on its bundled data
with the README's command and a time budget (`--train-minutes`, default text 1, speech 1,
translation 2 minutes):

    python -m recipes.<name> --out <out>/runs/<name> --max-train-minutes M

(its output in `<out>/logs/<name>.log`). A run folder that is not a finished run of that
recipe, or that has no `saved_model/`, stops the command with one error line naming it.

Serving batch sizes: each recipe's own default for its command (`predict_texts` 256,
`translate_texts` 64, speech tagging the run's `batch_size`), `--batch-size` to override;
the signatures take any batch size (`None` in their input signatures).

Method (that of `benchmarks/recurrent_layers.py`, whose `interleaved_medians` takes the
timings): per recipe the two paths take turns in interleaved rounds, each after the other
equally often, each with a pause and one untimed call before its timed ones; a batched call is
one pass over all the items (`--repeats` of them, one per round), a batch-1 call is one
input, the next of the first `--latency-items` in turn (`--latency-repeats`, 3 a round).
Reported: medians; items per second (sentences, translations, utterances) and ms per batch;
the time ratio SavedModel / `.keras` (below 1: the SavedModel is faster; the target of
issue 31 is at most 1); whether the two paths predicted the same (labels and probabilities
within 1e-5, identical translations, identical segments or CTC labels), for the batched
pass and for the batch-1 inputs; and the seconds each took to load (once, not a median).
Written to `<out>/results.json` and `<out>/results.md` (default
`runs/benchmarks/serving`). TensorFlow backend only (a SavedModel is a TensorFlow graph).

Timings on a shared machine are noisy: compare the ratios of one run.
"""

import argparse
import dataclasses
import operator
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

from benchmarks.recurrent_layers import ALLOCATOR_RULES
from benchmarks.recurrent_layers import add_allocator_argument
from benchmarks.recurrent_layers import apply_allocator
from benchmarks.recurrent_layers import failure
from benchmarks.recurrent_layers import interleaved_medians
from benchmarks.recurrent_layers import name_list
from benchmarks.recurrent_layers import number
from benchmarks.recurrent_layers import status_cell
from benchmarks.reports import write_results
from benchmarks.robustness import ROOT
from benchmarks.robustness import log_tail
from recipes.runner.errors import UsageError
from recipes.runner.outputs import check_run_folder
from toolkit.runtime.machine import machine_info

RECIPES = ("text_classification", "translation", "speech_tagging")
ITEMS = {
    "text_classification": "sentences",
    "translation": "translations",
    "speech_tagging": "utterances",
}
TRAIN_MINUTES = {"text_classification": 1.0, "translation": 2.0, "speech_tagging": 1.0}
# The files `export.load_run` reads; `saved_model/` is checked apart (its own message).
RUN_FILES = {
    "text_classification": ("model.keras", "labels.txt", "config.json"),
    "translation": ("model.keras", "source.spm", "target.spm", "config.json"),
    "speech_tagging": ("model.keras", "labels.txt", "config.json"),
}
DEFAULT_OUT = pathlib.Path("runs/benchmarks/serving")
PROBABILITY_TOLERANCE = 1e-5
LATENCY_BLOCK = 3  # batch-1 calls per path and round; a batched pass is one call a round
PATHS = ("saved_model", "keras")


# === Run folders ===


def check_run(recipe, run_dir):
    """`run_dir` as a path; a `UsageError` naming it unless it is a finished run with a
    SavedModel."""
    run_dir = check_run_folder(run_dir, RUN_FILES[recipe])
    if not (run_dir / "saved_model" / "saved_model.pb").is_file():
        raise UsageError(
            f"Argument `--runs` expected a run folder holding saved_model/. Received: "
            f"{str(run_dir)!r} (no saved_model/saved_model.pb); write it with "
            f"`KERAS_BACKEND=tensorflow python -m recipes.{recipe} export {run_dir}`"
        )
    return run_dir


def train_run(recipe, out, minutes):
    """Trains `recipe` on its bundled data with the README's command; returns the run folder
    and the command (a `RuntimeError` with the end of its log when it fails)."""
    run_dir = out / "runs" / recipe
    log_path = out / "logs" / f"{recipe}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", f"recipes.{recipe}", "--out", str(run_dir)]
    command += ["--max-train-minutes", f"{minutes:g}"]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    print(f"== training {recipe}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    with open(log_path, "w", encoding="utf-8") as log:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(
            f"Training {recipe} failed (exit {done.returncode}); the end of {log_path}:\n"
            + log_tail(log_path)
        )
    return run_dir, "python " + " ".join(command[1:])


# === The two paths of each recipe ===


@dataclasses.dataclass
class ServingPaths:
    """One recipe's two ways of serving the same inputs.

    Attributes:
        inputs: The test split's first items (what one call predicts a list of).
        batch_size: The serving batch size.
        signature: The SavedModel's serving signature.
        keras_path: What the `.keras` side runs, in words.
        saved_model: Callable, a list of inputs -> one prediction per input.
        keras: The same through the `.keras` model.
        load_seconds: `{"saved_model": s, "keras": s}`, each loaded once.
        loaded: The loaded SavedModel (its restored variables live as long as it).
        same: Callable, two predictions -> whether they are the same.
        gap: Optional callable, two predictions -> their largest probability difference.
    """

    inputs: list
    batch_size: int
    signature: str
    keras_path: str
    saved_model: object
    keras: object
    load_seconds: dict
    loaded: object
    same: object = operator.eq
    gap: object = None


def decoded(strings):
    return [value.decode("utf-8") for value in strings.numpy().reshape(-1).tolist()]


def load_both(run_dir, load_run):
    """`(load_run(run_dir), the loaded SavedModel, load_seconds)`: each loaded once, timed."""
    import tensorflow as tf

    start = time.perf_counter()
    keras_side = load_run(run_dir)
    middle = time.perf_counter()
    loaded = tf.saved_model.load(str(run_dir / "saved_model"))
    seconds = {"keras": middle - start, "saved_model": time.perf_counter() - middle}
    return keras_side, loaded, seconds


def text_classification_paths(run_dir, items, batch_size):
    import tensorflow as tf

    from recipes.runner.outputs import read_run_config
    from recipes.text_classification.config import TextClassificationConfig
    from recipes.text_classification.export import SIGNATURE
    from recipes.text_classification.export import load_run
    from recipes.text_classification.job import load_splits

    _, config = read_run_config(run_dir, TextClassificationConfig, RUN_FILES["text_classification"])
    splits, _, _ = load_splits(config)
    (model, class_names), loaded, load_seconds = load_both(run_dir, load_run)
    serve = getattr(loaded, SIGNATURE)

    def saved_model(texts):
        served = serve(tf.constant(texts, tf.string))
        return list(zip(decoded(served["label"]), served["probabilities"].numpy()))

    def keras_predict(texts):
        probabilities = model.predict(texts, batch_size=len(texts), verbose=0)
        return [(class_names[int(p.argmax())], p) for p in probabilities]

    return ServingPaths(
        inputs=list(splits["test"].texts[:items]),
        batch_size=batch_size or 256,
        signature=SIGNATURE,
        keras_path="TextClassifier.predict (the `predict` command's predict_texts)",
        saved_model=saved_model,
        keras=keras_predict,
        load_seconds=load_seconds,
        loaded=loaded,
        same=lambda a, b: a[0] == b[0],
        gap=lambda a, b: float(np.max(np.abs(a[1] - b[1]))),
    )


def translation_paths(run_dir, items, batch_size):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SentencePiece ops the SavedModel holds)

    from recipes.translation.export import SIGNATURE
    from recipes.translation.export import load_run
    from recipes.translation.export import search_options
    from recipes.translation.job import load_splits
    from recipes.translation.pipeline import translate_batches
    from recipes.translation.protection import SpanProtection

    (translator, config), loaded, load_seconds = load_both(run_dir, load_run)
    splits, _ = load_splits(config)
    serve = getattr(loaded, SIGNATURE)
    options = search_options(config)
    protection = SpanProtection.from_config(config)

    def saved_model(sources):
        return decoded(serve(tf.constant(sources, tf.string))["translation"])

    def keras_translate(sources):
        translations, _ = translate_batches(
            translator, sources, options, batch_size=len(sources), protection=protection
        )
        return translations

    search = "greedy" if options["beam_width"] is None else f"beam {options['beam_width']}"
    return ServingPaths(
        inputs=list(splits["test"].sources[:items]),
        batch_size=batch_size or 64,
        signature=SIGNATURE,
        keras_path=f"Translator.translate, {search} search (the `translate` command's "
        "translate_batches)",
        saved_model=saved_model,
        keras=keras_translate,
        load_seconds=load_seconds,
        loaded=loaded,
    )


def speech_tagging_paths(run_dir, items, batch_size):
    import tensorflow as tf

    from recipes.speech_tagging.export import SIGNATURE
    from recipes.speech_tagging.export import load_run
    from recipes.speech_tagging.export import tag_signals
    from recipes.speech_tagging.job import load_splits
    from recipes.speech_tagging.pipeline import encode_corpus
    from recipes.speech_tagging.pipeline import padded_batch
    from recipes.speech_tagging.scoring import frame_timing

    (tagger, labels, config), loaded, load_seconds = load_both(run_dir, load_run)
    splits, _ = load_splits(config)
    serve = getattr(loaded, SIGNATURE)
    seconds_per_frame, offset = frame_timing(config)
    ctc = config.mode == "ctc"

    def frames(seconds):  # segment times back to frame indices: exact comparisons
        return int(round((float(seconds) - offset) / seconds_per_frame))

    def saved_model(examples):
        inputs, _ = padded_batch(examples, config, tagger.takes_waveform)
        served = serve(*[tf.constant(value) for value in inputs.values()])
        if ctc:
            counts, names = served["label_counts"].numpy(), served["labels"].numpy()
            return [tuple(v.decode() for v in row[:n]) for row, n in zip(names, counts)]
        counts = served["segment_counts"].numpy()
        starts, ends = served["segment_starts"].numpy(), served["segment_ends"].numpy()
        names = served["segment_labels"].numpy()
        return [
            tuple(
                (names[row, i].decode(), frames(starts[row, i]), frames(ends[row, i]))
                for i in range(count)
            )
            for row, count in enumerate(counts)
        ]

    def keras_tag(examples):
        # `tag_signals` pads its own batches: one call per batch of examples.
        answers = tag_signals(tagger, labels, config, [example.signal for example in examples])
        if ctc:
            return [tuple(answer) for answer in answers]
        return [
            tuple((label, frames(start), frames(end)) for start, end, label in answer)
            for answer in answers
        ]

    return ServingPaths(
        inputs=encode_corpus(splits["test"], labels, config, "test")[:items],
        batch_size=batch_size or config.batch_size,
        signature=SIGNATURE,
        keras_path="tag_signals: FrameTagger.predict_on_batch, "
        + ("CTC labels" if ctc else "segments")
        + " in Python (the `tag` command's code)",
        saved_model=saved_model,
        keras=keras_tag,
        load_seconds=load_seconds,
        loaded=loaded,
    )


BUILDERS = {
    "text_classification": text_classification_paths,
    "translation": translation_paths,
    "speech_tagging": speech_tagging_paths,
}


# === Measurement ===


def in_batches(values, size):
    return [values[start : start + size] for start in range(0, len(values), size)]


def agreement(paths, saved, keras_answers):
    """How far the two paths' predictions of the same inputs agree."""
    same = [paths.same(a, b) for a, b in zip(saved, keras_answers)]
    result = {"items": len(same), "same": int(sum(same)), "all_same": all(same)}
    if paths.gap is not None:
        gap = max((paths.gap(a, b) for a, b in zip(saved, keras_answers)), default=0.0)
        result["max_abs_diff"] = gap
        result["all_same"] = result["all_same"] and gap <= PROBABILITY_TOLERANCE
    return result


def pass_over(predict, batches):
    return lambda: [answer for batch in batches for answer in predict(batch)]


def one_at_a_time(predict, inputs):
    """A function predicting the next of `inputs` alone at each call, in turn."""
    position = [0]

    def call():
        value = inputs[position[0] % len(inputs)]
        position[0] += 1
        return predict([value])

    return call


def path_rates(seconds, items, batches):
    return {
        "ms_per_batch": 1000 * seconds / batches,
        "ms_per_pass": 1000 * seconds,
        "items_per_s": items / seconds,
    }


def measure_recipe(recipe, run_dir, settings):
    """One recipe's row: both paths timed in interleaved rounds, their agreement."""
    paths = BUILDERS[recipe](run_dir, settings["items"], settings["batch_size"])
    inputs, size = paths.inputs, paths.batch_size
    if not inputs:
        raise ValueError(f"The test split of {run_dir} holds no {ITEMS[recipe]}")
    batches = in_batches(inputs, size)
    latency_inputs = inputs[: settings["latency_items"]]
    row = {
        "recipe": recipe,
        "run": str(run_dir),
        "signature": paths.signature,
        "keras_path": paths.keras_path,
        "items": len(inputs),
        "item_name": ITEMS[recipe],
        "batch_size": size,
        "batches": len(batches),
        "latency_items": len(latency_inputs),
        "load_seconds": paths.load_seconds,
    }
    # The first calls (tracing, the tf.data pipelines) also give the predictions compared.
    batched = {name: pass_over(getattr(paths, name), batches)() for name in PATHS}
    single = {name: [getattr(paths, name)([x])[0] for x in latency_inputs] for name in PATHS}
    row["agreement"] = {
        "batched": agreement(paths, batched["saved_model"], batched["keras"]),
        "batch_1": agreement(paths, single["saved_model"], single["keras"]),
    }
    medians, errors = interleaved_medians(
        {name: pass_over(getattr(paths, name), batches) for name in PATHS},
        settings["repeats"],
        settings["warmup"],
        block=1,
    )
    latency, latency_errors = interleaved_medians(
        {name: one_at_a_time(getattr(paths, name), latency_inputs) for name in PATHS},
        settings["latency_repeats"],
        settings["warmup"],
        block=LATENCY_BLOCK,
    )
    errors.update({f"{name} (batch 1)": error for name, error in latency_errors.items()})
    if errors:
        row["errors"] = {name: failure(error) for name, error in errors.items()}
    for name in PATHS:
        row[name] = {}
        if name in medians:
            row[name]["batched"] = path_rates(medians[name], len(inputs), len(batches))
        if name in latency:
            row[name]["batch_1"] = {"ms": 1000 * latency[name], "items_per_s": 1 / latency[name]}
    row["saved_model_over_keras"] = {
        phase: row["saved_model"][phase][key] / row["keras"][phase][key]
        for phase, key in (("batched", "ms_per_batch"), ("batch_1", "ms"))
        if phase in row["saved_model"] and phase in row["keras"]
    }
    row["status"] = "ok" if not errors else "failed: " + "; ".join(row["errors"].values())
    return row


def run_benchmark(args):
    """Every selected recipe, trained first unless `--runs` names its folder."""
    from recipes.runner.exporting import require_tensorflow_backend

    require_tensorflow_backend("Timing the recipes' SavedModels")
    runs = {recipe: check_run(recipe, path) for recipe, path in args.runs.items()}
    settings = {
        "items": args.items,
        "batch_size": args.batch_size,
        "latency_items": args.latency_items,
        "repeats": args.repeats,
        "latency_repeats": args.latency_repeats,
        "warmup": args.warmup,
        "allocator": apply_allocator(args.allocator),
    }
    rows = []
    for recipe in args.recipes:
        trained = None
        try:
            if recipe in runs:
                run_dir = runs[recipe]
            else:
                minutes = args.train_minutes or TRAIN_MINUTES[recipe]
                run_dir, command = train_run(recipe, args.out, minutes)
                trained = {"command": command, "minutes": minutes}
            row = measure_recipe(recipe, run_dir, settings)
        except Exception as error:  # the row says so; the other recipes go on
            row = {"recipe": recipe, "status": failure(error)}
        if trained:
            row["trained"] = trained
        print(f"{recipe}: {row['status']}", file=sys.stderr, flush=True)
        rows.append(row)
    return {
        "machine": {
            **machine_info(("keras", "tensorflow", "tensorflow-text", "numpy")),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
        "settings": settings,
        "rows": rows,
    }


# === Report ===

TABLE_HEADER = (
    "recipe",
    "items",
    "batch",
    "SavedModel ms/batch",
    ".keras ms/batch",
    "SavedModel items/s",
    ".keras items/s",
    "SavedModel / .keras",
    "batch-1 SavedModel ms",
    "batch-1 .keras ms",
    "batch-1 SavedModel / .keras",
    "same predictions",
)


def same_cell(agreement_of):
    """`yes` or `k/n`, the batched pass then the batch-1 inputs, with the largest gap."""
    cells = []
    for phase in ("batched", "batch_1"):
        entry = agreement_of.get(phase)
        if entry is None:
            cells.append("-")
            continue
        text = "yes" if entry["all_same"] else f"{entry['same']}/{entry['items']}"
        if "max_abs_diff" in entry:
            text += f" ({entry['max_abs_diff']:.1e})"
        cells.append(text)
    return " / ".join(cells)


def table_row(row):
    cells = [row["recipe"]]
    if row["status"] != "ok" and "saved_model" not in row:
        cells.append(status_cell(row["status"]))
        return cells + ["-"] * (len(TABLE_HEADER) - len(cells))
    saved, keras_side = row["saved_model"], row["keras"]
    ratios = row["saved_model_over_keras"]
    cells += [f"{row['items']} {row['item_name']}", str(row["batch_size"])]
    cells += [
        number(side.get("batched", {}).get("ms_per_batch"), ".1f") for side in (saved, keras_side)
    ]
    cells += [
        number(side.get("batched", {}).get("items_per_s"), ",.1f") for side in (saved, keras_side)
    ]
    cells.append(number(ratios.get("batched"), ".2f"))
    cells += [number(side.get("batch_1", {}).get("ms"), ".2f") for side in (saved, keras_side)]
    cells.append(number(ratios.get("batch_1"), ".2f"))
    cells.append(same_cell(row["agreement"]))
    return cells


def verdict(rows):
    """Issue 31's target, per recipe: the SavedModel serves at least as fast as `.keras`."""
    lines = []
    for row in rows:
        ratios = row.get("saved_model_over_keras", {})
        if set(ratios) != {"batched", "batch_1"}:
            lines.append(f"* {row['recipe']}: not measured ({status_cell(row['status'])})")
            continue
        met = all(value <= 1 for value in ratios.values())
        lines.append(
            f"* {row['recipe']}: {'met' if met else 'NOT met'} (SavedModel / `.keras` "
            f"{ratios['batched']:.2f} batched, {ratios['batch_1']:.2f} at batch 1)"
        )
    return lines


def markdown_report(results):
    machine, settings = results["machine"], results["settings"]
    load = machine.get("load_average")
    lines = [
        "# Serving: SavedModel against `.keras` predict",
        "",
        f"{machine['date']}, backend {machine['backend']}, {machine['cpu']}, "
        f"os.cpu_count() {machine['os_cpu_count']}"
        + (f", load average {load[0]:.2f} at the end" if load else "")
        + ", "
        + ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
        + ".",
        "",
        f"Medians of {settings['repeats']} passes over the items per path (one per interleaved "
        f"round, after {settings['warmup']} warm-up pass(es) and one untimed pass a round) and "
        f"of {settings['latency_repeats']} batch-1 calls over the first "
        f"{settings['latency_items']} items in turn. `SavedModel / .keras` is the time "
        "ratio (below 1: the SavedModel is faster). `same predictions`: the batched pass / "
        "the batch-1 inputs, `yes` or how many agree (largest probability gap in brackets). "
        "Freed memory: " + ALLOCATOR_RULES[settings.get("allocator", "default")],
        "",
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|" + " --- |" * len(TABLE_HEADER),
    ]
    lines += ["| " + " | ".join(table_row(row)) + " |" for row in results["rows"]]
    lines += ["", "What each path runs:", ""]
    for row in results["rows"]:
        if "signature" not in row:
            continue
        loads = row["load_seconds"]
        lines.append(
            f"* {row['recipe']} ({row['run']}): SavedModel `{row['signature']}` signature "
            f"(loaded in {loads['saved_model']:.1f} s); `.keras`: {row['keras_path']} "
            f"(loaded in {loads['keras']:.1f} s)"
            + (f"; trained with `{row['trained']['command']}`" if "trained" in row else "")
        )
    lines += ["", "Target (issue 31: the SavedModel at least as fast as `.keras`):", ""]
    lines += verdict(results["rows"])
    return "\n".join(lines) + "\n"


# === Command line ===


def run_argument(text):
    name, separator, path = text.partition("=")
    if not separator or name not in RECIPES or not path:
        raise argparse.ArgumentTypeError(
            f"expected NAME=DIR with NAME one of {', '.join(RECIPES)}; got {text!r}"
        )
    return name, pathlib.Path(path)


def positive(text):
    from recipes.runner.cli import positive_int

    return positive_int(text)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serving",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    parser.add_argument("--recipes", type=name_list(RECIPES), default=list(RECIPES))
    parser.add_argument(
        "--runs",
        type=run_argument,
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a finished run folder of recipe NAME (default: train one first)",
    )
    parser.add_argument("--items", type=positive, default=256, help="test inputs (default 256)")
    parser.add_argument(
        "--batch-size", type=positive, help="serving batch (default: the recipe's own)"
    )
    parser.add_argument("--latency-items", type=positive, default=8, help="batch-1 inputs")
    parser.add_argument("--repeats", type=positive, default=5, help="timed passes (default 5)")
    parser.add_argument(
        "--latency-repeats", type=positive, default=15, help="timed batch-1 calls (default 15)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls first (default 1)")
    parser.add_argument(
        "--train-minutes",
        type=float,
        help="training budget (default: text 1, speech 1, translation 2)",
    )
    add_allocator_argument(parser)
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.runs = dict(args.runs)
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    results = run_benchmark(args)
    print(write_results(results, args.out, markdown_report))
    return 0


if __name__ == "__main__":
    from recipes.runner.errors import run_command

    sys.exit(run_command(main, prog="python -m benchmarks.serving"))
