"""Runs the study's experiments and writes `report.md` and `results.json`.

The experiments are found by key in `EXPERIMENTS`, in claim order; each is the module
`recipes.study.<key>`, imported only when selected, exposing `KEY` (its key) and
`run(out_dir, quick=False, seed=0) -> Finding`. `run_study` imports every selected module
before running any (a missing one fails at once, not after an hour), runs them one after
the other into a staging folder beside `out_dir` (`recipes.runner.staged_output`), checks
each `Finding` (its key, verdict, tables, and that its figures exist inside the folder),
times it, and only when all succeeded writes `results.json` (every Finding as a dict, with
the machine and the command) and `report.md`, then renames the folder into place. A run
that fails leaves nothing at `out_dir` (an older report there stays as it was).
"""

import dataclasses
import importlib
import importlib.metadata
import json
import pathlib
import subprocess
import sys
import time

import keras
import numpy as np

from recipes.runner import staged_output
from recipes.runner.reports import write_json
from recipes.study.findings import VERDICTS
from recipes.study.findings import Finding
from toolkit.runtime.machine import machine_info as runtime_machine_info

# Key -> what the experiment checks, in the order of the claims of issue 9.
EXPERIMENTS = {
    "vanishing": "1. simple RNNs suffer vanishing gradients",
    "long_range": "2. LSTMs and GRUs capture long-range dependencies",
    "cost": "3. GRUs are cheaper than LSTMs",
    "attention": "4. attention helps translation of long sentences",
    "gates": "5. the gates learn interpretable behaviour",
}
DEFAULT_OUT = pathlib.Path("runs/study")
PACKAGES = ("keras", "tensorflow", "jax", "numpy", "scikit-learn", "matplotlib")


# === Experiments ===


def parse_experiments(text):
    """The experiment keys of a comma-separated list, in claim order.

    Args:
        text: String such as `"vanishing,cost"`; `None` or `"all"` selects every experiment.

    Returns:
        A list of keys of `EXPERIMENTS`, in its order.

    Raises:
        ValueError: an unknown or repeated key, or an empty list, naming `--experiments`.

    Example:

    >>> parse_experiments("gates, vanishing")
    ['vanishing', 'gates']
    """
    if text is None or text.strip() == "all":
        return list(EXPERIMENTS)
    keys = [key.strip() for key in text.split(",") if key.strip()]
    unknown = [key for key in keys if key not in EXPERIMENTS]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if not keys or unknown or repeated:
        problem = (
            f"unknown {unknown}"
            if unknown
            else f"repeated {repeated}"
            if repeated
            else "no experiment"
        )
        raise ValueError(
            f"Argument `--experiments` expected a comma-separated list of {list(EXPERIMENTS)} "
            f"(or 'all'). Received: --experiments={text!r} ({problem})"
        )
    return [key for key in EXPERIMENTS if key in keys]


def experiment_module(key):
    """Imports `recipes.study.<key>` and checks that it is an experiment with that key."""
    if key not in EXPERIMENTS:
        raise ValueError(
            f"Argument `key` expected one of {list(EXPERIMENTS)}. Received: key={key!r}"
        )
    name = f"recipes.study.{key}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        raise RuntimeError(
            f"The experiment {key!r} ({EXPERIMENTS[key]}) is not available: no module {name}."
        ) from error
    if getattr(module, "KEY", None) != key or not callable(getattr(module, "run", None)):
        raise RuntimeError(
            f"The module {name} expected to define `KEY = {key!r}` and "
            f"`run(out_dir, quick=False, seed=0)`. Received: KEY={getattr(module, 'KEY', None)!r}"
        )
    return module


def check_finding(finding, key, out_dir):
    """Raises `RuntimeError` if an experiment's result is not a complete `Finding`."""
    where = f"The experiment {key!r} returned"
    if not isinstance(finding, Finding):
        raise RuntimeError(f"{where} {type(finding).__name__}, expected a Finding.")
    if finding.key != key:
        raise RuntimeError(f"{where} a Finding with key={finding.key!r}, expected {key!r}.")
    if finding.verdict not in VERDICTS:
        raise RuntimeError(f"{where} verdict={finding.verdict!r}, expected one of {VERDICTS}.")
    for table in finding.tables:
        if not isinstance(table, str) or not table.lstrip().startswith("|"):
            raise RuntimeError(f"{where} a table that is not a markdown table: {table!r:.80}")
    root = pathlib.Path(out_dir).resolve()
    for figure in finding.figures:
        path = (root / figure).resolve()
        if pathlib.PurePath(figure).is_absolute() or root not in path.parents:
            raise RuntimeError(f"{where} the figure {figure!r}, not a path inside the run folder.")
        if not path.is_file():
            raise RuntimeError(f"{where} the figure {figure!r}, which it did not write.")


def run_study(keys, out_dir=DEFAULT_OUT, quick=False, seed=0, command=None, log=sys.stderr):
    """Runs the experiments and writes the report folder; see the module docstring.

    Args:
        keys: List of keys of `EXPERIMENTS` (`parse_experiments`).
        out_dir: The report folder (default `runs/study`); replaced only on success.
        quick: Boolean (default `False`), each experiment's tiny smoke-test sizes.
        seed: Integer (default `0`), passed to every experiment.
        command: The command line to record (default: this process's arguments).
        log: Where progress lines go (default stderr).

    Returns:
        The list of `Finding`s, in claim order.
    """
    modules = {key: experiment_module(key) for key in keys}
    command = command or "python -m recipes.study " + " ".join(sys.argv[1:])
    machine = machine_info()
    findings = []
    with staged_output(out_dir) as staging:
        for key, module in modules.items():
            print(f"[study] {key}: running ({'quick' if quick else 'full'} size)", file=log)
            keras.backend.clear_session()
            start = time.perf_counter()
            try:
                finding = module.run(staging, quick=quick, seed=seed)
                check_finding(finding, key, staging)
            except Exception as error:
                print(f"[study] {key}: failed, no report written ({error})", file=log)
                raise
            finding = dataclasses.replace(finding, seconds=time.perf_counter() - start)
            findings.append(finding)
            print(f"[study] {key}: {finding.verdict} ({format_seconds(finding.seconds)})", file=log)
        results = {
            "command": command,
            "quick": quick,
            "seed": seed,
            "machine": machine,
            "experiments": list(keys),
            "findings": [plain(dataclasses.asdict(finding)) for finding in findings],
        }
        write_json(staging / "results.json", results)
        (staging / "report.md").write_text(
            render_report(findings, machine, command, quick, seed), encoding="utf-8"
        )
    return findings


# === Machine ===


def _git_commit():
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=pathlib.Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def machine_info():
    """`toolkit.runtime.machine.machine_info` of `PACKAGES`, with the git commit."""
    return {**runtime_machine_info(PACKAGES), "commit": _git_commit()}


# === Rendering ===


def plain(value):
    """`value` with NumPy scalars and arrays turned into Python numbers and lists."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    return value


def format_seconds(seconds):
    """`"42 s"`, `"3 min 05 s"` or `"1 h 02 min"`."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def render_report(findings, machine, command, quick, seed):
    """The markdown report: title, set-up, a verdict table, then one section per claim."""
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    lines = [
        "# The gated-RNN study: the usual claims, checked with the toolkit",
        "",
        f"Generated {machine['date']} by `{command}`"
        + (f" (commit {machine['commit']})" if machine.get("commit") else "")
        + ".",
        "",
    ]
    if quick:
        lines += [
            "> **Quick mode**: tiny models and budgets, a smoke test of the code. The numbers "
            "and verdicts below say nothing about the claims.",
            "",
        ]
    lines += [
        "## Set-up",
        "",
        "| | |",
        "| --- | --- |",
        f"| machine | {machine['cpu']}, {machine['cpus_usable']} usable CPU(s), "
        f"{machine['platform']} |",
        f"| software | Python {machine['python']}, Keras backend `{machine['backend']}`; "
        f"{versions} |",
        f"| seed | {seed} |",
        f"| total time | {format_seconds(sum(f.seconds for f in findings))} |",
        "",
        "Every verdict is computed from the numbers measured in this run, by the criterion "
        "stated in its section; where a claim does not hold in our runs, the report says so.",
        "",
        "## Verdicts",
        "",
        "| claim | verdict | time |",
        "| --- | --- | --- |",
    ]
    for finding in findings:
        anchor = _anchor(finding.title)
        lines.append(
            f"| [{finding.title}](#{anchor}) | **{finding.verdict}** | "
            f"{format_seconds(finding.seconds)} |"
        )
    lines.append("")
    for finding in findings:
        lines += [
            f"## {finding.title}",
            "",
            f"**Claim.** {finding.claim}",
            "",
            f"**Verdict: {finding.verdict}.**",
            "",
            finding.summary,
            "",
        ]
        for table in finding.tables:
            lines += [table.strip(), ""]
        for figure in finding.figures:
            caption = pathlib.PurePosixPath(figure).stem.replace("_", " ")
            lines += [f"![{caption}]({pathlib.PurePath(figure).as_posix()})", ""]
        lines += [f"*Time taken: {format_seconds(finding.seconds)}.*", ""]
    return "\n".join(lines)


def _anchor(title):
    """GitHub's heading anchor: lower case, punctuation dropped, spaces as hyphens."""
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def load_results(out_dir):
    """The `results.json` of a finished study folder, its findings as `Finding`s."""
    results = json.loads((pathlib.Path(out_dir) / "results.json").read_text(encoding="utf-8"))
    results["findings"] = [Finding(**entry) for entry in results["findings"]]
    return results
