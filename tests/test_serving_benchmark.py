"""The serving benchmark (`benchmarks/serving.py`) on tiny trained runs of the three recipes.

One run per recipe, as small as the recipes allow (a few examples, one or two epochs),
trained once for the module and given to the benchmark with `--runs`; then one benchmark
call with one timed pass and a few batch-1 calls per path. What is checked is what the
report says, not how fast anything was: both paths timed for every recipe, at the batch
size and at batch 1; the two paths predicting the same (a trained run's SavedModel is the
same graph as its `.keras` model); `results.json` and `results.md` written with one row
per recipe; and a missing or incomplete run folder stopping the command with one message
naming it. TensorFlow only (a SavedModel is a TensorFlow graph): not in `tests/conftest.py`'s
`LIBRARY_PASS`.
"""

import json
import shutil

import pytest

from benchmarks import serving
from recipes.runner.errors import UsageError
from tests.recipes.test_speech_tagging import tiny as tiny_tagging
from tests.recipes.test_speech_tagging import write_tone_corpus
from tests.recipes.test_text_classification import sentences
from tests.recipes.test_text_classification import tiny_config as tiny_text
from tests.recipes.test_text_classification import write_csv
from tests.recipes.test_translation import TINY as TINY_TRANSLATION
from tests.recipes.test_translation import write_splits

pytestmark = [pytest.mark.tensorflow_only, pytest.mark.slow]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`{recipe: run folder}`: one tiny trained run of each recipe."""
    from recipes.speech_tagging import run as run_tagging
    from recipes.text_classification import run as run_text
    from recipes.translation import TranslationConfig
    from recipes.translation import run as run_translation

    root = tmp_path_factory.mktemp("serving")
    text_data = write_csv(root / "topics.csv", sentences(60, seed=0))
    run_text(tiny_text(text_data, epochs=1, baseline=False, attention_examples=0), root / "text")
    options = {**TINY_TRANSLATION, "examples": 2, "attention_examples": 0}
    translation = TranslationConfig(data=str(write_splits(root / "pairs")), epochs=1, **options)
    run_translation(translation, root / "translation")
    tones = write_tone_corpus(root / "tones", sizes=(4, 2, 3))
    run_tagging(tiny_tagging(data=str(tones), epochs=1, baseline=False), root / "speech")
    return {
        "text_classification": root / "text",
        "translation": root / "translation",
        "speech_tagging": root / "speech",
    }


def test_both_paths_are_timed_agree_and_are_reported(runs, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["--out", str(out), "--items", "5", "--batch-size", "2", "--latency-items", "2"]
    argv += ["--repeats", "1", "--latency-repeats", "2", "--warmup", "0"]
    for recipe, run_dir in runs.items():
        argv += ["--runs", f"{recipe}={run_dir}"]
    assert serving.main(argv) == 0

    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["allocator"] == "reuse"
    rows = {row["recipe"]: row for row in results["rows"]}
    assert list(rows) == list(serving.RECIPES)
    for recipe, row in rows.items():
        assert row["status"] == "ok", (recipe, row["status"])
        assert row["run"] == str(runs[recipe])
        assert row["batch_size"] == 2 and row["latency_items"] <= 2
        assert row["batches"] == -(-row["items"] // 2)
        for path in serving.PATHS:
            batched = row[path]["batched"]
            assert batched["ms_per_batch"] > 0 and batched["items_per_s"] > 0
            assert batched["ms_per_pass"] == pytest.approx(batched["ms_per_batch"] * row["batches"])
            assert row[path]["batch_1"]["ms"] > 0
            assert row["load_seconds"][path] > 0
        assert set(row["saved_model_over_keras"]) == {"batched", "batch_1"}
        for phase in ("batched", "batch_1"):
            agreement = row["agreement"][phase]
            assert agreement["all_same"], (recipe, phase, agreement)
            assert agreement["same"] == agreement["items"] > 0
    assert rows["text_classification"]["agreement"]["batched"]["max_abs_diff"] <= 1e-5
    assert rows["translation"]["signature"] == "translate"
    assert rows["speech_tagging"]["signature"] == "tag"

    report = (out / "results.md").read_text()
    table = [line for line in report.splitlines() if line.startswith("| ")]
    assert len(table) == 2 + len(serving.RECIPES)  # header, rule, one row per recipe
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    for line in table[2:]:
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|"))))
        assert float(cells["SavedModel / .keras"]) > 0
        assert float(cells["batch-1 SavedModel / .keras"]) > 0
        assert cells["same predictions"].startswith("yes")
    assert report.count(": met (") + report.count(": NOT met (") == len(serving.RECIPES)
    assert report in capsys.readouterr().out


def test_a_folder_that_is_not_a_finished_run_is_named_in_one_message(runs, tmp_path):
    missing = tmp_path / "no-such-run"
    with pytest.raises(UsageError, match="finished run folder") as raised:
        serving.main(["--runs", f"translation={missing}", "--out", str(tmp_path / "out")])
    assert str(missing) in str(raised.value) and "\n" not in str(raised.value)

    # A text run is no translation run: it has no SentencePiece models.
    text_run = runs["text_classification"]
    with pytest.raises(UsageError, match=r"\(no source\.spm\)") as raised:
        serving.main(["--runs", f"translation={text_run}", "--out", str(tmp_path / "out")])
    assert str(text_run) in str(raised.value)

    without_saved_model = tmp_path / "copy"
    shutil.copytree(text_run, without_saved_model, ignore=shutil.ignore_patterns("saved_model"))
    with pytest.raises(UsageError, match="no saved_model/saved_model.pb") as raised:
        serving.main(["--runs", f"text_classification={without_saved_model}"])
    message = str(raised.value)
    assert str(without_saved_model) in message and "export" in message
    assert not (tmp_path / "out").exists()  # stopped before measuring or writing anything


def test_run_arguments_name_a_recipe():
    with pytest.raises(SystemExit):
        serving.parse_args(["--runs", "speech=/tmp/run"])
    assert serving.parse_args(["--runs", "translation=/tmp/run"]).runs == {
        "translation": serving.pathlib.Path("/tmp/run")
    }
