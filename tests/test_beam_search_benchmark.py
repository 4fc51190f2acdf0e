"""The beam-search benchmark (`benchmarks/beam_search.py`) on a tiny trained translation run.

What is checked is what the report says, not how fast anything was: the four variants
(memory shared or tiled, blocked or full top-k) each timed, translating alike (the same
token ids and scores as the library's own search), the report files written, and a bad
run folder or argument stopping the command with one message. TensorFlow only: not in
`tests/conftest.py`'s `LIBRARY_PASS`.
"""

import json

import pytest

from benchmarks import beam_search
from tests.recipes.test_translation import TINY
from tests.recipes.test_translation import write_splits

pytestmark = [pytest.mark.tensorflow_only, pytest.mark.slow]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from recipes.translation import TranslationConfig
    from recipes.translation import run

    root = tmp_path_factory.mktemp("beam_search")
    options = {**TINY, "examples": 2, "attention_examples": 0, "saved_model": False}
    config = TranslationConfig(data=str(write_splits(root / "pairs")), epochs=1, **options)
    run(config, root / "run")
    return root / "run"


def test_every_variant_is_timed_and_translates_as_the_library(run_dir, tmp_path):
    out = tmp_path / "report"
    argv = ["--run", str(run_dir), "--items", "5", "--batch-size", "2", "--repeats", "1"]
    assert beam_search.main(argv + ["--out", str(out)]) == 0

    results = json.loads((out / "results.json").read_text())
    assert results["sources"] == 5 and results["beam_width"] == 3
    rows = {row["variant"]: row for row in results["rows"]}
    assert list(rows) == list(beam_search.VARIANTS)
    for row in rows.values():
        assert row["seconds"] > 0 and row["sources_per_second"] > 0
        assert row["same_tokens_as_library"] and row["score_gap"] < 1e-5
    assert rows[beam_search.BASELINE]["ratio_to_baseline"] == 1.0
    report = (out / "results.md").read_text()
    assert "| shared + blocked |" in report and "| tiled + full |" in report


def test_the_variants_put_back_what_they_replace():
    from toolkit.attention.decoder import AttentionDecoderCell
    from toolkit.decoding import search

    prepare, top_k = AttentionDecoderCell.prepare_memory, search.top_k
    with beam_search.variant("tiled", "full", 4):
        assert AttentionDecoderCell.prepare_memory is not prepare and search.top_k is not top_k
    assert AttentionDecoderCell.prepare_memory is prepare and search.top_k is top_k


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--run", "no/such/run"], "no/such/run"),
        (["--run", ".", "--items", "0"], "`--items` expected a positive integer"),
    ],
)
def test_bad_arguments_stop_with_one_message(argv, message, capsys):
    assert beam_search.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
