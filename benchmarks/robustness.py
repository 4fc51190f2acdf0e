"""The robustness matrix (issue 27): each recipe against its baseline on corpora of other shapes.

For every (recipe, shape) pair it generates the corpus (`benchmarks/corpora/`)
under `<out>/corpora/<recipe>/<shape>/`, runs the recipe exactly as a user
would, as a subprocess,

    python -m recipes.<name> --data DIR --out <out>/runs/<recipe>-<shape> --max-train-minutes M

(its output in `<out>/logs/<recipe>-<shape>.log`), reads the run's
`metrics.json` and `config.json`, and writes `<out>/results.json` and
`<out>/results.md`: one row per pair with the recipe's score, the
baseline's, the verdict (`beats` when the recipe's score is strictly better,
else `loses`), the training seconds, epochs, and why training stopped. A
failed run is a `failed` row with the end of its log; a corpus that cannot be
made here (no espeak-ng; no translation generator) is a `skipped` row.

The scores compared:

* text (`recipes.text_classification`): test macro-F1, and accuracy beside
  it, against the run's own TF-IDF + logistic-regression baseline
  (`metrics.json` `comparison`);
* speech (`recipes.speech_tagging`): test frame accuracy, and PER beside it,
  against the run's own MLP on stacked frames;
* translation (`recipes.translation`): test BLEU, and chrF beside it, against
  copying the source sentence (the recipe has no baseline of its own; this
  one is scored here with sacreBLEU on the run's test split).

Usage:

    python -m benchmarks.robustness --out runs/benchmarks/robustness
    python -m benchmarks.robustness --recipes text --shapes 2-classes,24-classes \\
        --out runs/benchmarks/robustness
    python -m benchmarks.robustness --recipes text --quick --out /tmp/robustness

`--minutes-scale F` multiplies every budget (text 2, speech 3, translation 5
minutes). `--quick` makes tiny corpora and runs the recipes' tiny presets for
0.1 minute without a SavedModel: a smoke test of the whole path, not a
measurement. Recipes run one at a time.
"""

import argparse
import dataclasses
import datetime
import importlib
import importlib.util
import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import time

from benchmarks.corpora import speech
from benchmarks.corpora import text
from benchmarks.corpora.folders import clear_corpus_folder
from benchmarks.corpora.folders import write_corpus_record

ROOT = pathlib.Path(__file__).resolve().parents[1]
QUICK_MINUTES = 0.1
LOG_TAIL_LINES = 25


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How the matrix runs one recipe.

    Attributes:
        name: String, the recipe's short name (`text`, `speech`, `translation`).
        module: String, the recipe's module (`python -m <module>`).
        minutes: Float, the training budget of one run before `--minutes-scale`.
        shapes: Callable `() -> {name: shape}`, the corpus shapes.
        write_corpus: Callable `(out_dir, shape, seed) -> (data path, one-line
            description)` making the corpus (raises `CorpusUnavailable` when it
            cannot be made here).
        score: Callable `(run_dir, metrics) -> dict` with `metric`,
            `recipe_score`, `baseline_score`, `baseline_name`, `beats` (the
            recipe's score is strictly better) and `also` (a second metric:
            `name`, `recipe_score`, `baseline_score`).
        quick_arguments: Tuple of extra recipe arguments for `--quick`.
    """

    name: str
    module: str
    minutes: float
    shapes: object
    write_corpus: object
    score: object
    quick_arguments: tuple = ()


class CorpusUnavailable(RuntimeError):
    """The corpus cannot be made on this machine (a missing program or generator)."""


# === Corpora ===


def write_text(out_dir, shape, seed):
    record = text.write_text_corpus(out_dir, shape, seed)
    return pathlib.Path(out_dir) / record["data"], describe_text(record)


def describe_text(record):
    counts = record["counts"]
    sizes = "/".join(
        str(sum(counts[name].values()))
        for name in ("train", "dev", "test", "data")
        if name in counts
    )
    layout = {"splits": "train/dev/test", "no-dev": "train/test, no dev", "single": "one file"}
    per_class = [sum(split[label] for split in counts.values()) for label in record["labels"]]
    balance = (
        f"{min(per_class)}-{max(per_class)} per class"
        if min(per_class) != max(per_class)
        else f"{per_class[0]} per class"
    )
    return (
        f"{len(record['labels'])} classes, {balance}, {record['shape']['length']} "
        f"(median {record['words']['median']:g} words), {layout[record['shape']['layout']]} "
        f"{sizes}"
    )


def write_speech(out_dir, shape, seed):
    if not speech.espeak_available():
        raise CorpusUnavailable(
            "espeak-ng is not installed (apt-get install -y espeak-ng libespeak-ng1)"
        )
    record = speech.write_speech_corpus(out_dir, shape, seed)
    return pathlib.Path(out_dir), describe_speech(record)


def describe_speech(record):
    parts = []
    for split in ("train", "dev", "test"):
        if split in record["utterances"]:
            parts.append(
                f"{split} {len(record['voices'][split])} voices / "
                f"{record['utterances'][split]} utts / {record['seconds'][split]:.0f} s"
            )
    shape = record["shape"]
    seen = "test voices seen in train" if shape["test_voices_seen"] else "test voices unseen"
    rate = "-".join(str(r) for r in shape["rate_wpm"])
    no_dev = "; no dev folder" if "dev" not in record["utterances"] else ""
    return f"{'; '.join(parts)}{no_dev}; {seen}; {rate} wpm"


@dataclasses.dataclass(frozen=True)
class TranslationShape:
    """A software-messages corpus: `pairs` English -> German pairs in one TSV file (the
    recipe carves dev and test out of it)."""

    name: str
    pairs: int

    def quick(self):
        return dataclasses.replace(self, pairs=min(self.pairs, 300))


TRANSLATION_SHAPES = {
    shape.name: shape
    for shape in (TranslationShape("1500-pairs", 1500), TranslationShape("6000-pairs", 6000))
}
NO_TRANSLATION_GENERATOR = (
    "no translation corpus generator: benchmarks/corpora/software_messages.py with "
    "write_tsv(path, count, seed) is not there"
)


def software_messages():
    """The translation corpus generator, `benchmarks/corpora/software_messages.py` (another
    engineer's), or `None` while it is not there. It writes `source<TAB>target` lines with
    `write_tsv(path, count, seed)`."""
    if importlib.util.find_spec("benchmarks.corpora.software_messages") is None:
        return None
    return importlib.import_module("benchmarks.corpora.software_messages")


def translation_shapes():
    return TRANSLATION_SHAPES if software_messages() is not None else {}


def write_translation(out_dir, shape, seed):
    generator = software_messages()
    if generator is None:
        raise CorpusUnavailable(NO_TRANSLATION_GENERATOR)
    out_dir = clear_corpus_folder(out_dir)
    path = generator.write_tsv(out_dir / "pairs.tsv", shape.pairs, seed)
    record = {
        "generator": "benchmarks.corpora.software_messages",
        "shape": dataclasses.asdict(shape),
        "seed": seed,
        "files": ["pairs.tsv"],
    }
    write_corpus_record(out_dir, record)
    return pathlib.Path(path), f"{shape.pairs} English -> German software messages, one TSV"


# === Scores ===


def compared(metrics, key):
    """The recipe's and the baseline's test `key` from metrics.json's `comparison`."""
    pair = metrics["comparison"][key]
    return pair["recipe"], pair["baseline"], bool(pair["recipe_beats_baseline"])


def scored_by_comparison(metric, also, baseline_name):
    """A scorer that reads the run's own `comparison` of `metric` (and `also`) in metrics.json."""

    def score(run_dir, metrics):
        recipe, baseline, beats = compared(metrics, metric)
        also_recipe, also_baseline, _ = compared(metrics, also)
        return {
            "metric": metric,
            "recipe_score": recipe,
            "baseline_score": baseline,
            "baseline_name": baseline_name,
            "beats": beats,
            "also": {"name": also, "recipe_score": also_recipe, "baseline_score": also_baseline},
        }

    return score


score_text = scored_by_comparison("macro_f1", "accuracy", "TF-IDF 1-2-grams + logistic regression")
score_speech = scored_by_comparison("frame_accuracy", "per", "MLP on +-5 stacked frames")


def score_translation(run_dir, metrics):
    import sacrebleu

    from toolkit.data import load_parallel_splits

    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    splits, _ = load_parallel_splits(
        config["data"],
        format=config["format"],
        source_language=config["source_language"],
        target_language=config["target_language"],
        source_column=config["source_column"],
        target_column=config["target_column"],
        encoding=config["encoding"],
        max_words=config["max_words"],
        dev_fraction=config["dev_fraction"],
        test_fraction=config["test_fraction"],
        seed=config["split_seed"],
    )
    test = splits["test"]
    copied_bleu = sacrebleu.corpus_bleu(list(test.sources), [list(test.targets)]).score
    copied_chrf = sacrebleu.corpus_chrf(list(test.sources), [list(test.targets)]).score
    return {
        "metric": "bleu",
        "recipe_score": metrics["bleu"],
        "baseline_score": copied_bleu,
        "baseline_name": "copy the source sentence",
        "beats": metrics["bleu"] > copied_bleu,
        "also": {"name": "chrf", "recipe_score": metrics["chrf"], "baseline_score": copied_chrf},
    }


RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "text",
            "recipes.text_classification",
            2.0,
            lambda: text.SHAPES,
            write_text,
            score_text,
            (
                "--preset",
                "recipes/text_classification/presets/tiny.yaml",
                "--set",
                "saved_model=false",
            ),
        ),
        Recipe(
            "speech",
            "recipes.speech_tagging",
            3.0,
            lambda: speech.SHAPES,
            write_speech,
            score_speech,
            (
                "--preset",
                "recipes/speech_tagging/presets/tiny.yaml",
                "--set",
                "saved_model=false",
            ),
        ),
        Recipe(
            "translation",
            "recipes.translation",
            5.0,
            translation_shapes,
            write_translation,
            score_translation,
            (
                "--set",
                "saved_model=false",
                "--set",
                "units=16",
                "--set",
                "embedding_dim=16",
                "--set",
                "source_vocabulary=300",
                "--set",
                "target_vocabulary=300",
            ),
        ),
    )
}


# === Runs ===


def stop_reason(training, config):
    """Why `fit` ended: the run's own `stopped_because` when it writes one, else the time
    budget, early stopping or the epoch limit, read from its flags and config."""
    if training.get("stopped_because"):
        return training["stopped_because"]
    if training.get("stopped_by_time_budget"):
        return f"time budget ({config.get('max_train_minutes')} min)"
    epochs_run, epochs = training.get("epochs_run"), config.get("epochs")
    if epochs_run is not None and epochs is not None and epochs_run >= epochs:
        return f"epoch limit ({epochs})"
    return f"early stopping (patience {config.get('patience')})"


def log_tail(path, lines=LOG_TAIL_LINES):
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_pair(recipe, shape_name, shape, args, out):
    """Generates one corpus, runs the recipe on it, and returns the row."""
    key = f"{recipe.name}-{shape_name}"
    row = {"recipe": recipe.name, "shape": shape_name}
    if args.quick and hasattr(shape, "quick"):
        shape = shape.quick()
    corpus_dir = out / "corpora" / recipe.name / shape_name
    try:
        data, description = recipe.write_corpus(corpus_dir, shape, args.seed)
    except CorpusUnavailable as error:
        return {**row, "status": "skipped", "reason": str(error)}
    minutes = QUICK_MINUTES if args.quick else recipe.minutes * args.minutes_scale
    run_dir = out / "runs" / key
    log_path = out / "logs" / f"{key}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", recipe.module, "--data", str(data), "--out", str(run_dir)]
    command += ["--max-train-minutes", f"{minutes:g}"]
    if args.quick:
        command += list(recipe.quick_arguments)
    row.update(corpus=description, data=str(data), run=str(run_dir), minutes=minutes)
    row["command"] = shlex.join(command)
    print(f"== {key}: {description}\n   {row['command']}", flush=True)
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    row["seconds"] = round(time.monotonic() - start, 1)
    row["log"] = str(log_path)
    if done.returncode != 0 or not (run_dir / "metrics.json").exists():
        row.update(status="failed", returncode=done.returncode, error=log_tail(log_path))
        print(f"   failed (exit {done.returncode}); see {log_path}", flush=True)
        return row
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    try:
        score = recipe.score(run_dir, metrics)
    except (KeyError, ValueError) as error:
        row.update(status="failed", error=f"metrics.json has no comparison to read: {error!r}")
        return row
    training = metrics.get("training", {})
    row.update(
        status="ok",
        **score,
        verdict="beats" if score["beats"] else "loses",
        training_seconds=training.get("seconds"),
        epochs_run=training.get("epochs_run"),
        stopped_by=stop_reason(training, config),
        training=training,
        backend=metrics.get("backend"),
    )
    print(
        f"   {score['metric']} {score['recipe_score']:.4f} vs baseline "
        f"{score['baseline_score']:.4f}: "
        f"{row['verdict']} ({row['stopped_by']}, {row['training_seconds']} s)",
        flush=True,
    )
    return row


# === Report ===


def last_line(error):
    """The last non-empty line of an error tail (the exception, for a traceback)."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    return (lines[-1] if lines else "").replace("|", "/")


def results_table(rows):
    """The markdown table of the rows."""

    def number(value, metric):
        if value is None:
            return "-"
        return f"{value:.2f}" if metric in ("bleu", "chrf") else f"{value:.4f}"

    lines = [
        "| recipe | shape | corpus | metric | recipe | baseline | verdict | also (recipe / "
        "baseline) | training s | epochs | stopped by |",
        "|---|---|---|---|---:|---:|---|---|---:|---:|---|",
    ]
    for row in rows:
        head = f"| {row['recipe']} | {row['shape']} | {row.get('corpus', '-')} |"
        if row["status"] != "ok":
            reason = row.get("reason") or (
                f"exit {row.get('returncode')}: {last_line(row.get('error', ''))} "
                f"(log: {row.get('log')})"
            )
            lines.append(f"{head} - | - | - | **{row['status']}** | {reason} | - | - | - |")
            continue
        metric, also = row["metric"], row["also"]
        scores = f"{number(row['recipe_score'], metric)} | {number(row['baseline_score'], metric)}"
        also_scores = (
            f"{also['name']} {number(also['recipe_score'], also['name'])} / "
            f"{number(also['baseline_score'], also['name'])}"
        )
        lines.append(
            f"{head} {metric} | {scores} | **{row['verdict']}** | {also_scores} | "
            f"{row['training_seconds']} | {row['epochs_run']} | {row['stopped_by']} |"
        )
    return "\n".join(lines)


def write_results(out, rows, args, argv, seconds):
    baselines = sorted(
        {(row["recipe"], row["baseline_name"]) for row in rows if "baseline_name" in row}
    )
    results = {
        "command": "python -m benchmarks.robustness " + shlex.join(argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow (default)"),
        },
        "seed": args.seed,
        "quick": args.quick,
        "minutes_scale": args.minutes_scale,
        "seconds": round(seconds, 1),
        "rows": rows,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    verdicts = [row["verdict"] for row in rows if row["status"] == "ok"]
    summary = (
        f"{verdicts.count('beats')} of {len(rows)} runs beat their baseline, "
        f"{verdicts.count('loses')} lose, {sum(row['status'] == 'failed' for row in rows)} failed, "
        f"{sum(row['status'] == 'skipped' for row in rows)} skipped."
    )
    notes = [f"* {name}: baseline {baseline}." for name, baseline in baselines]
    text_md = "\n".join(
        [
            "# Robustness matrix",
            "",
            "```",
            results["command"],
            "```",
            "",
            f"{results['date']}, commit {results['commit']}, {results['machine']['platform']}, "
            f"{results['machine']['cpu_count']} CPUs, backend {results['machine']['keras_backend']}"
            f"; {results['seconds']:.0f} s in all. {summary}",
            "",
            results_table(rows),
            "",
            *notes,
            "",
        ]
    )
    (out / "results.md").write_text(text_md, encoding="utf-8")


def git_commit():
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


# === Command line ===


def selected_pairs(recipe_names, shape_names, parser):
    """-> [(Recipe, shape name, shape)] in recipe order, then the recipe's shape order; a recipe
    with no shapes here (translation, until its generator exists) has one pair with shape None."""
    recipes = [RECIPES[name] for name in recipe_names]
    wanted = None if shape_names is None else set(shape_names)
    pairs, matched = [], set()
    for recipe in recipes:
        for name, shape in recipe.shapes().items():
            for key in (name, f"{recipe.name}:{name}"):
                if wanted is None or key in wanted:
                    matched.add(key)
                    pairs.append((recipe, name, shape))
                    break
        if not recipe.shapes() and wanted is None:
            pairs.append((recipe, "-", None))
    unknown = (wanted or set()) - matched
    if unknown:
        known = [f"{r.name}:{n}" for r in recipes for n in r.shapes()]
        parser.error(f"unknown shapes {sorted(unknown)}; the selected recipes have {known}")
    return pairs


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.robustness",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--recipes",
        default="text,speech,translation",
        help="comma-separated: text, speech, translation (default all)",
    )
    parser.add_argument(
        "--shapes",
        help="comma-separated shape names or recipe:shape "
        "(default every shape of the chosen recipes)",
    )
    parser.add_argument(
        "--minutes-scale",
        type=float,
        default=1.0,
        help="multiplies each recipe's training budget (default 1)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny corpora, tiny presets, 0.1 training minutes"
    )
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--out", default="runs/benchmarks/robustness", help="output folder")
    args = parser.parse_args(argv)
    recipe_names = [name.strip() for name in args.recipes.split(",") if name.strip()]
    unknown = [name for name in recipe_names if name not in RECIPES]
    if unknown or not recipe_names:
        parser.error(f"--recipes expected names among {list(RECIPES)}; received {args.recipes!r}")
    if not args.minutes_scale > 0:
        parser.error(f"--minutes-scale expected a positive number; received {args.minutes_scale}")
    shape_names = None
    if args.shapes:
        shape_names = [name.strip() for name in args.shapes.split(",") if name.strip()]
    return args, selected_pairs(recipe_names, shape_names, parser)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args, pairs = parse_arguments(argv)
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    start, rows = time.monotonic(), []
    for recipe, shape_name, shape in pairs:  # one at a time: the recipes use every core
        if shape is None:
            # Only translation has no shapes, while its generator is not there.
            reason = NO_TRANSLATION_GENERATOR
            rows.append(
                {"recipe": recipe.name, "shape": shape_name, "status": "skipped", "reason": reason}
            )
            continue
        rows.append(run_pair(recipe, shape_name, shape, args, out))
        write_results(out, rows, args, argv, time.monotonic() - start)  # partial results
    write_results(out, rows, args, argv, time.monotonic() - start)
    print(f"wrote {out / 'results.md'}")
    return rows


if __name__ == "__main__":
    from recipes.runner.errors import run_command

    sys.exit(run_command(main, prog="python -m benchmarks.robustness"))
