"""The notebooks run top to bottom at tiny size and are stored without outputs.

`test_notebook_runs` executes each notebook of `notebooks/` in a fresh kernel
with nbclient, with `NOTEBOOK_SIZE=tiny` (the parameter every notebook reads
in its first code cell) and `NOTEBOOK_RUNS` pointing at a temporary folder,
where the recipe notebooks write their run folders. It runs on the TensorFlow
backend only: the notebooks call toolkit code that the JAX pass of the suite
already covers, and executing them is the slowest part of the suite.
`test_notebooks_are_stored_without_outputs` checks every notebook of the
repository on every backend.
"""

import json
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SKIPPED_FOLDERS = {"runs", "build", "dist", "node_modules", "__pycache__"}
# The notebooks that run a recipe, which writes a run folder under NOTEBOOK_RUNS.
RECIPE_NOTEBOOKS = ("03_text_classification", "04_translation_with_attention", "05_speech_tagging")


def repository_notebooks():
    """Every `.ipynb` under the repository root, hidden and output folders skipped."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [
            name for name in subfolders if not name.startswith(".") and name not in SKIPPED_FOLDERS
        ]
        found += [pathlib.Path(folder) / name for name in files if name.endswith(".ipynb")]
    return sorted(found)


@pytest.mark.no_keras_state
def test_the_notebooks_of_the_toolkit_are_there():
    assert {path.stem for path in NOTEBOOKS} >= {
        "01_gates_unveiled",
        "02_vanishing_gradients",
        "03_text_classification",
        "04_translation_with_attention",
        "05_speech_tagging",
        "06_new_gates",
    }


@pytest.mark.slow
@pytest.mark.tensorflow_pass(reason="the notebooks call toolkit code the JAX pass covers")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("NOTEBOOK_SIZE", "tiny")
    monkeypatch.setenv("NOTEBOOK_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    source_files = sorted(path.parent.rglob("*"))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [
        f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    # Something was computed and shown: every notebook ends on its "What we saw" summary.
    last_outputs = notebook.cells[-1].get("outputs", [])
    assert any("text/markdown" in output.get("data", {}) for output in last_outputs)
    # Runs go to NOTEBOOK_RUNS, nothing into the source tree.
    assert sorted(path.parent.rglob("*")) == source_files
    written = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    if path.stem in RECIPE_NOTEBOOKS:
        assert pathlib.Path("runs", path.stem, "metrics.json") in written
    else:
        assert written == []


@pytest.mark.no_keras_state
def test_notebooks_are_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    paths = repository_notebooks()
    assert set(NOTEBOOKS) <= set(paths)
    problems = []
    for path in paths:
        name = path.relative_to(ROOT)
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        if notebook.metadata.get("kernelspec", {}).get("name") != "python3":
            problems.append(f"{name}: kernelspec is not python3")
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            if cell.get("outputs"):
                problems.append(f"{name}: cell {index} has outputs")
            if cell.get("execution_count") is not None:
                problems.append(f"{name}: cell {index} has execution_count {cell.execution_count}")
            if "execution" in cell.get("metadata", {}):
                problems.append(f"{name}: cell {index} has execution timing metadata")
        if not code_cells or "NOTEBOOK_SIZE" not in code_cells[0].source:
            problems.append(f"{name}: the first code cell does not read NOTEBOOK_SIZE")
        # The file on disk, not only what nbformat makes of it.
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("nbformat") != 4:
            problems.append(f"{name}: nbformat {raw.get('nbformat')}, expected 4")
    assert not problems, "\n".join(problems)
