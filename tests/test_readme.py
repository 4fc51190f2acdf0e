"""The README's examples (layers, and each task model) run as written."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
TOOLKIT_DOCS = README.parent / "docs" / "toolkit.md"


@pytest.mark.tensorflow_only
def test_readme_usage_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    assert (tmp_path / "model.keras").exists()
    assert (tmp_path / "saved_model" / "saved_model.pb").exists()
    assert namespace["traces"], "trace_gates found no toolkit layer"


def test_the_encoder_decoder_from_parts_in_the_docs_runs():
    """docs/toolkit.md's encoder-decoder built from the parts (moved from the README)."""
    blocks = re.findall(r"```python\n(.*?)```", TOOLKIT_DOCS.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/toolkit.md should have the encoder-decoder example"
    namespace = {}
    exec(compile(blocks[0], str(TOOLKIT_DOCS), "exec"), namespace)
    result = namespace["result"]
    assert tuple(result["tokens"].shape) == (2, 2, 20)
    assert tuple(result["alignments"].shape) == (2, 2, 20, 7)
    assert tuple(namespace["model"].outputs[0].shape) == (None, None, 100)


def _readme_block(index, tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 4, "README.md: the layers, classifier, translator and tagger examples"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(blocks[index], str(README), "exec"), namespace)
    return namespace


def test_readme_task_model_example_runs(tmp_path, monkeypatch):
    """Build, fit, predict, save, reload with `import toolkit` alone, and (TensorFlow)
    export the text classifier, as the README shows it."""
    namespace = _readme_block(1, tmp_path, monkeypatch)
    assert namespace["probabilities"].shape == (1, 2)
    assert (tmp_path / "classifier.keras").exists()
    if namespace["keras"].backend.backend() == "tensorflow":
        assert (tmp_path / "classifier_saved_model" / "saved_model.pb").exists()


def test_readme_translator_example_runs(tmp_path, monkeypatch):
    """Build, fit, translate, save, reload with `import toolkit` alone, and (TensorFlow)
    export the translator, as the README shows it."""
    namespace = _readme_block(2, tmp_path, monkeypatch)
    translations = namespace["translations"]
    assert len(translations) == 2 and all(isinstance(text, str) for text in translations)
    reloaded = namespace["reloaded"]
    assert type(reloaded).__name__ == "Translator"
    assert reloaded.translate(["the cat sat", "a dog"], beam_width=3) == translations
    if namespace["keras"].backend.backend() == "tensorflow":
        assert (tmp_path / "translator_saved_model" / "saved_model.pb").exists()


def test_readme_tagger_example_runs(tmp_path, monkeypatch):
    """Build, fit, tag, save, reload with `import toolkit` alone, and (TensorFlow) export
    the frame tagger, as the README shows it."""
    namespace = _readme_block(3, tmp_path, monkeypatch)
    segments = namespace["segments"]
    assert segments and all(start < end for start, end, _ in segments)
    assert {label for _, _, label in segments} <= {"quiet", "loud"}
    assert type(namespace["reloaded"]).__name__ == "FrameTagger"
    if namespace["keras"].backend.backend() == "tensorflow":
        assert (tmp_path / "tagger_saved_model" / "saved_model.pb").exists()
