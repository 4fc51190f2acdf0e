"""Every command fails cleanly: one `error:` line and status 2 for a user's mistake,
one line and 130 / 143 for Ctrl-C / SIGTERM, a traceback only with `--debug`; and
every run folder survives (symbolic links, killed runs, a final rename that fails).

The commands run in this process through `recipes.runner.errors.run_command`, as
their `python -m` entry points do; `test_a_command_line_in_a_fresh_process` checks
one real command line end to end.
"""

import importlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

from recipes.runner import staged_output
from recipes.runner.errors import Stopped
from recipes.runner.errors import UsageError
from recipes.runner.errors import end_cleanly_on_sigterm
from recipes.runner.errors import run_command
from recipes.runner.outputs import OUTPUT_MARKER
from recipes.runner.outputs import remove_stale_staging
from toolkit.data import DataError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(module, argv, capsys):
    """`(status, stdout, stderr)` of `python -m recipes.<module> *argv`, in this process."""
    main = importlib.import_module(f"recipes.{module}.cli").main
    status = run_command(main, argv, prog=f"python -m recipes.{module}")
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(err, *fragments):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("python -m recipes.") and ": error: " in lines[0], err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# === The error path itself ===


def test_expected_errors_print_one_line_and_exit_2(capsys):
    def main(argv):
        raise DataError("data.csv, line 3: expected 2 columns. Received: 1")

    assert run_command(main, [], prog="python -m recipes.x") == 2
    assert_one_error_line(capsys.readouterr().err, "data.csv, line 3: expected 2 columns")


def test_debug_flag_or_variable_shows_the_traceback_and_is_not_passed_on(capsys, monkeypatch):
    seen = []

    def main(argv):
        seen.append(argv)
        raise UsageError("no run here")

    assert run_command(main, ["--debug", "a"], prog="p") == 2
    assert seen == [["a"]]
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("p: error: no run here")

    monkeypatch.setenv("RECIPES_DEBUG", "1")
    assert run_command(main, ["a"], prog="p") == 2
    assert "Traceback" in capsys.readouterr().err


def test_files_that_cannot_be_opened_name_the_file(capsys, tmp_path):
    def main(argv):
        open(tmp_path / "missing.txt").close()

    assert run_command(main, [], prog="python -m recipes.x") == 2
    assert_one_error_line(capsys.readouterr().err, "No such file or directory", "missing.txt")


def test_a_bug_keeps_its_traceback():
    def main(argv):
        raise ValueError("an internal shape mismatch")  # not a user's mistake: no class of those

    with pytest.raises(ValueError, match="internal shape mismatch"):
        run_command(main, [], prog="p")


def test_ctrl_c_and_sigterm_print_one_line_with_their_status(capsys):
    def interrupted(argv):
        raise KeyboardInterrupt

    def terminated(argv):
        raise Stopped(signal.SIGTERM)

    assert run_command(interrupted, [], prog="p") == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stopped by Ctrl-C" in err and "Traceback" not in err
    assert run_command(terminated, [], prog="p") == 143
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stopped by SIGTERM" in err


def test_sigterm_unwinds_and_removes_the_staging_folder(tmp_path, capsys):
    """SIGTERM (`timeout`, job schedulers) ended a run at once and left its hidden staging
    folder; the first one now unwinds as `Stopped`, the command ends with 143."""
    previous = signal.getsignal(signal.SIGTERM)

    def main(argv):
        with staged_output(tmp_path / "run") as staging:
            (staging / "metrics.json").write_text("{}")
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
        return 0

    try:
        end_cleanly_on_sigterm()
        assert run_command(main, [], prog="p") == 143
        assert list(tmp_path.iterdir()) == []
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # a second one kills
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "stopped by SIGTERM" in capsys.readouterr().err


def test_a_command_line_in_a_fresh_process(tmp_path):
    """`python -m recipes.text_classification` on an empty file: one line, status 2."""
    (tmp_path / "empty.csv").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "recipes.text_classification", "--data", "empty.csv"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert lines == [
        "python -m recipes.text_classification: error: empty.csv: is empty (format 'csv')"
    ]
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.glob("runs/*")) and not any(tmp_path.glob("runs/.*"))


# === Each recipe's commands on a user's mistakes ===

RECIPES = ["text_classification", "translation", "speech_tagging"]
SERVING = {"text_classification": "predict", "translation": "translate", "speech_tagging": "tag"}


@pytest.fixture()
def probes(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine\n")
    (tmp_path / "a_file").write_text("x\n")
    (tmp_path / "not_a_run").mkdir()
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    return tmp_path


@pytest.mark.parametrize("module", RECIPES)
def test_a_missing_data_path_is_one_line(module, probes, capsys):
    status, _, err = run(
        module, ["--data", str(probes / "nope"), "--out", str(probes / "o")], capsys
    )
    assert status == 2
    assert_one_error_line(err, "nope")
    assert not (probes / "o").exists()


@pytest.mark.parametrize("module", RECIPES)
def test_a_foreign_out_folder_is_refused_and_left_as_it_was(module, probes, capsys):
    status, _, err = run(module, ["--out", str(probes / "foreign")], capsys)
    assert status == 2
    assert_one_error_line(err, "foreign", "holds files no run wrote (notes.txt)")
    assert [path.name for path in (probes / "foreign").iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("module", RECIPES)
def test_an_out_folder_under_a_file_is_refused(module, probes, capsys):
    status, _, err = run(module, ["--out", str(probes / "a_file" / "run")], capsys)
    assert status == 2
    assert_one_error_line(err, "a_file", "is a file, not a folder")


@pytest.mark.parametrize("module", RECIPES)
@pytest.mark.parametrize("command", ["serve", "export"])
def test_a_folder_that_is_not_a_run_is_one_line(module, command, probes, capsys):
    command = SERVING[module] if command == "serve" else command
    extra = [str(probes / "a.wav")] if command == "tag" else []
    status, _, err = run(module, [command, str(probes / "not_a_run"), *extra], capsys)
    assert status == 2
    assert_one_error_line(err, "not_a_run", "expected a finished run folder")


@pytest.mark.parametrize("module", ["text_classification", "translation"])
def test_serving_input_that_is_not_utf8_names_the_file_and_line(module, probes, capsys):
    """`predict --input` with Latin-1 bytes ended in a `UnicodeDecodeError` naming no file."""
    (probes / "run").mkdir()
    (probes / "run" / "model.keras").write_bytes(b"")  # the input is read before the model
    argv = [SERVING[module], str(probes / "run"), "--input", str(probes / "latin1.txt")]
    status, _, err = run(module, argv, capsys)
    assert status == 2
    assert_one_error_line(err, "latin1.txt, line 1", "cannot decode the bytes b'\\xe9'", "iconv")


def test_a_bad_config_value_is_one_line_and_status_2(capsys, tmp_path):
    """Config errors went through argparse, whose usage block says nothing about them."""
    status, _, err = run("text_classification", ["--set", "units=-1"], capsys)
    assert status == 2
    assert_one_error_line(err, "Config key `units` expected a positive integer")
    (tmp_path / "bad.yaml").write_text("units: [1, 2\n")
    status, _, err = run("text_classification", ["--preset", str(tmp_path / "bad.yaml")], capsys)
    assert status == 2
    assert_one_error_line(err, "bad.yaml, line 2, column 1 is not valid YAML: expected ','")


def test_a_bad_flag_is_argparse_usage_and_status_2(capsys):
    with pytest.raises(SystemExit) as raised:
        run("text_classification", ["--strategy", "tpu"], capsys)
    assert raised.value.code == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


# === Run folders survive ===


def test_out_that_is_a_symbolic_link_replaces_the_target_and_keeps_the_link(tmp_path):
    """A link to an earlier run: the job finished, then `rmtree` refused the link and the
    staging folder, the whole run, was deleted."""
    with staged_output(tmp_path / "first") as staging:
        (staging / "metrics.json").write_text('{"run": 1}')
    (tmp_path / "latest").symlink_to("first")
    with staged_output(tmp_path / "latest") as staging:
        (staging / "metrics.json").write_text('{"run": 2}')

    assert (tmp_path / "latest").is_symlink()
    assert json.loads((tmp_path / "first" / "metrics.json").read_text()) == {"run": 2}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["first", "latest"]


def test_a_finished_run_that_cannot_be_put_in_place_is_kept_and_named(tmp_path, monkeypatch):
    out = tmp_path / "run"
    with pytest.raises(UsageError, match="The run finished, but could not replace") as raised:
        with staged_output(out) as staging:
            (staging / "metrics.json").write_text("{}")
            (tmp_path / "run").mkdir()  # meanwhile, someone else's folder appears there
            (tmp_path / "run" / "theirs.txt").write_text("x")
    kept = [path for path in tmp_path.iterdir() if path.name.startswith("run.finished-")]
    assert len(kept) == 1 and (kept[0] / "metrics.json").is_file()
    assert str(kept[0]) in str(raised.value)
    assert [path.name for path in out.iterdir()] == ["theirs.txt"]


KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {root!r})
from recipes.runner import staged_output
with staged_output({out!r}) as staging:
    (staging / "model.keras").write_bytes(b"x" * 1000)
    print(staging, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_staging_folder_of_a_killed_run_is_removed_by_the_next_run(tmp_path, capsys):
    """After SIGKILL the hidden staging folder stayed for ever, a full copy per killed run."""
    out = tmp_path / "run"
    script = textwrap.dedent(KILLED_RUN.format(root=str(ROOT), out=str(out)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    stale = pathlib.Path(done.stdout.strip())
    assert stale.is_dir() and stale.parent == tmp_path

    with staged_output(out) as staging:
        (staging / "metrics.json").write_text("{}")
    assert not stale.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]
    assert f"Removed {stale}/" in capsys.readouterr().out


def test_the_staging_folder_of_a_live_run_is_left_alone(tmp_path):
    """Two concurrent runs on one `--out` both end correctly: neither removes the other's."""
    out = tmp_path / "run"
    with staged_output(out) as first:
        with staged_output(out) as second:
            assert first.is_dir()
            (second / "metrics.json").write_text('{"run": 2}')
        assert first.is_dir()  # the inner run finished and did not take the outer's folder
        (first / "metrics.json").write_text('{"run": 1}')
    assert json.loads((out / "metrics.json").read_text()) == {"run": 1}  # the later wins
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]


def test_folders_without_an_owner_record_or_of_another_host_are_left_alone(tmp_path):
    for name, owner in [(".run-legacy", None), (".run-remote", {"pid": 1, "host": "elsewhere"})]:
        (tmp_path / name).mkdir()
        text = "Written by a recipe\n" + (f"owner: {json.dumps(owner)}\n" if owner else "")
        (tmp_path / name / OUTPUT_MARKER).write_text(text)
    assert remove_stale_staging(tmp_path / "run") == []
    assert sorted(path.name for path in tmp_path.iterdir()) == [".run-legacy", ".run-remote"]


def test_data_with_one_class_is_one_line_naming_the_file(tmp_path, capsys):
    rows = "".join(f"sentence number {i},only\n" for i in range(40))
    (tmp_path / "one.csv").write_text("text,label\n" + rows)
    argv = ["--data", str(tmp_path / "one.csv"), "--out", str(tmp_path / "o")]
    status, _, err = run("text_classification", argv, capsys)
    assert status == 2
    assert_one_error_line(err, "one.csv", "at least two labels in the training split", "'only'")


@pytest.mark.parametrize(
    "setting, fragment",
    [("encoding=nope", "Argument `encoding`"), ("text_column=label", "two different columns")],
)
def test_config_values_the_reader_refuses_are_one_line(setting, fragment, tmp_path, capsys):
    """`--set encoding=nope` reached the reader's argument check: a bare `ValueError`."""
    status, _, err = run("text_classification", ["--set", setting, "--out", str(tmp_path)], capsys)
    assert status == 2
    assert_one_error_line(err, fragment)


@pytest.mark.parametrize("module", RECIPES)
@pytest.mark.parametrize("command", ["serve", "export"])
def test_a_run_folder_whose_model_is_not_a_keras_file_is_one_line(module, command, probes, capsys):
    """A truncated or foreign model.keras ended in Keras' traceback."""
    run_dir = probes / "broken_run"
    run_dir.mkdir()
    for name in ("labels.txt", "source.spm", "target.spm"):
        (run_dir / name).write_text("a\nb\n")
    (run_dir / "config.json").write_text("{}")
    (run_dir / "model.keras").write_bytes(b"PK\x03\x04 cut short")
    (probes / "in.txt").write_text("hello\n")
    command = SERVING[module] if command == "serve" else command
    extra = {"tag": [str(probes / "a.wav")], "export": []}.get(command, ["--input", "in.txt"])
    extra = [str(probes / "in.txt") if arg == "in.txt" else arg for arg in extra]
    status, _, err = run(module, [command, str(run_dir), *extra], capsys)
    if command == "export" and "needs the TensorFlow backend" in err:
        return  # another backend: refused before the model is read
    assert status == 2
    assert_one_error_line(err, "broken_run", "model.keras cannot be loaded as a Keras model")


def test_a_run_folder_whose_config_is_not_json_is_one_line(probes, capsys):
    run_dir = probes / "run"
    run_dir.mkdir()
    for name in ("model.keras", "labels.txt", "config.json"):
        (run_dir / name).write_text("{ not json")
    status, _, err = run("speech_tagging", ["tag", str(run_dir), str(probes / "a.wav")], capsys)
    assert status == 2
    assert_one_error_line(err, "config.json cannot be read")
