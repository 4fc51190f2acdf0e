"""The demo job runs end to end at tiny size and fails without leftovers."""

import json

import keras
import pytest

from recipes import demo
from recipes.runner import load_config
from recipes.runner.outputs import OUTPUT_MARKER


def tiny_config(**overrides):
    config = demo.DemoConfig(
        units=4, train_examples=48, test_examples=16, epochs=1, batch_size=16, max_length=14
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple"])
def test_demo_trains_evaluates_and_exports(tmp_path, cell):
    out = tmp_path / "run"
    metrics = demo.run(tiny_config(cell=cell), out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["config.json", "metrics.json", "model.keras", OUTPUT_MARKER]
        + (["saved_model"] if keras.backend.backend() == "tensorflow" else [])
    )
    written = json.loads((out / "metrics.json").read_text())
    assert written == metrics
    assert 0.0 <= written["test_accuracy"] <= 1.0
    assert written["keras_reload_max_abs_diff"] <= 1e-6
    assert json.loads((out / "config.json").read_text())["cell"] == cell


def test_demo_bad_cell_leaves_no_output(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="cell"):
        demo.run(tiny_config(cell="transformer"), out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_a_folder_no_run_wrote_before_training(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    monkeypatch.setattr(demo, "make_dataset", lambda *args: pytest.fail("it trained"))
    with pytest.raises(ValueError, match="`out_dir` expected a new or empty folder"):
        demo.run(tiny_config(), mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_demo_overrides_are_checked():
    config = load_config(demo.DemoConfig, None, ["units=3", "frequencies=1,2"])
    assert config.units == 3 and config.frequencies == (1.0, 2.0)
    with pytest.raises(ValueError, match="--set nonexistent=1"):
        load_config(demo.DemoConfig, None, ["nonexistent=1"])
    with pytest.raises(ValueError, match="units"):
        load_config(demo.DemoConfig, None, ["units=many"])


def test_demo_main_writes_to_out(tmp_path, capsys):
    out = tmp_path / "nested" / "run"
    assert (
        demo.main(
            [
                "--out",
                str(out),
                "--set",
                "units=3",
                "--set",
                "train_examples=32",
                "--set",
                "test_examples=8",
                "--set",
                "epochs=1",
                "--set",
                "max_length=13",
            ]
        )
        == 0
    )
    assert (out / "metrics.json").exists()
    assert "metrics.json" in capsys.readouterr().out
