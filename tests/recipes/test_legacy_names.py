"""`model.keras` files saved before the recipes' layers and losses moved into the
library (`recipes.speech_tagging>FrameLengths`, ...) still load, as the library's classes."""

import json
import zipfile

import keras
import numpy as np
import pytest

import toolkit
from recipes.speech_tagging import model as speech_model
from recipes.translation import model as translation_model


def with_old_names(path, old_path, package, module, names):
    """Copies a `.keras` file, its config naming `names` as the recipe registered them."""

    def rename(value):
        if isinstance(value, dict):
            registered = value.get("registered_name")
            if isinstance(registered, str) and registered.split(">")[-1] in names:
                assert registered.startswith("toolkit>"), registered
                value = {
                    **value,
                    "registered_name": f"{package}>{value['class_name']}",
                    "module": module,
                }
            return {key: rename(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rename(item) for item in value]
        return value

    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old_path, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "config.json":
                text = json.dumps(rename(json.loads(data)))
                for name in names:  # what the old file says, and nothing new
                    assert f'"registered_name": "{package}>{name}"' in text, name
                    assert f"toolkit>{name}" not in text, name
                data = text.encode()
            target.writestr(entry, data)
    return old_path


SPEECH_NAMES = ("FrameLengths", "FrameMask", "BlankPadding", "MaskedCTC")


def old_speech_tagger(tmp_path):
    """A CTC tagger saved as the recipe's earlier runs wrote it, and its inputs and targets."""
    waveform = keras.Input((None,), name="waveform")
    lengths = keras.Input((), dtype="int32", name="lengths")
    x = toolkit.features.LogMelSpectrogram(
        sample_rate=100, frame_length=8, frame_step=4, num_mel_bins=3, name="features"
    )(waveform)
    frame_lengths = speech_model.FrameLengths(8, 4, name="frame_lengths")(lengths)
    mask = speech_model.FrameMask(name="frame_mask")([x, frame_lengths])
    logits = keras.layers.Dense(4, name="logits")(x)
    outputs = speech_model.BlankPadding(name="blank_padding")([logits, mask])
    model = keras.Model([waveform, lengths], outputs)
    model.compile(optimizer="adam", loss=speech_model.MaskedCTC())
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-1, 1, (2, 30)).astype("float32"), np.array([30, 17], "int32")]
    targets = np.array([[1, 2, 3], [3, -1, -1]], "int32")
    model.fit(inputs, targets, verbose=0)  # trained, with an optimizer state
    model.save(tmp_path / "new.keras")
    path = with_old_names(
        tmp_path / "new.keras",
        tmp_path / "old.keras",
        "recipes.speech_tagging",
        "recipes.speech_tagging.model",
        SPEECH_NAMES,
    )
    return model, path, inputs, targets


def test_the_recipe_modules_register_the_old_names():
    objects = keras.saving.get_custom_objects()
    for name in SPEECH_NAMES:
        assert objects[f"recipes.speech_tagging>{name}"] is getattr(speech_model, name)
    assert (
        objects["recipes.translation>LabelSmoothedCrossEntropy"]
        is toolkit.losses.LabelSmoothedCrossEntropy
    )
    assert speech_model.FrameLengths is toolkit.features.FrameLengths
    assert speech_model.MaskedCTC is toolkit.losses.MaskedCTC


def test_a_speech_tagger_saved_under_the_recipes_names_loads(tmp_path):
    model, path, inputs, targets = old_speech_tagger(tmp_path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("frame_lengths")) is toolkit.features.FrameLengths
    assert type(loaded.get_layer("frame_mask")) is toolkit.features.FrameMask
    assert type(loaded.get_layer("blank_padding")) is toolkit.losses.BlankPadding
    assert type(loaded.loss) is toolkit.losses.MaskedCTC
    np.testing.assert_array_equal(
        loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0)
    )
    np.testing.assert_allclose(
        loaded.evaluate(inputs, targets, verbose=0),
        model.evaluate(inputs, targets, verbose=0),
        rtol=1e-6,
    )
    # Saved again, it names the library's classes.
    loaded.save(tmp_path / "again.keras")
    config = zipfile.ZipFile(tmp_path / "again.keras").read("config.json").decode()
    assert "recipes.speech_tagging" not in config and '"toolkit>FrameLengths"' in config


def test_without_the_alias_the_old_file_would_not_load(tmp_path, monkeypatch):
    _, path, _, _ = old_speech_tagger(tmp_path)
    monkeypatch.delitem(keras.saving.get_custom_objects(), "recipes.speech_tagging>FrameLengths")
    with pytest.raises(TypeError, match="FrameLengths"):
        keras.models.load_model(path)


def test_a_translation_model_compiled_with_the_recipes_loss_name_loads(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(7, 3, mask_zero=True)(ids)
    model = keras.Model(ids, keras.layers.Dense(7, name="projection")(x))
    model.compile(
        optimizer="adam",
        loss=translation_model.LabelSmoothedCrossEntropy(0.1),
        metrics=["accuracy"],
    )
    inputs = np.array([[2, 5, 4], [2, 6, 0]], "int32")
    targets = np.array([[5, 4, 3], [6, 3, 0]], "int32")
    model.fit(inputs, targets, verbose=0)
    model.save(tmp_path / "new.keras")
    # The old loss's config: no `ignore_class` (it always ignored PAD = 0).
    path = tmp_path / "old.keras"
    with zipfile.ZipFile(tmp_path / "new.keras") as source, zipfile.ZipFile(path, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "config.json":
                config = json.loads(data)
                loss = config["compile_config"]["loss"]
                assert loss["registered_name"] == "toolkit>LabelSmoothedCrossEntropy"
                loss["registered_name"] = "recipes.translation>LabelSmoothedCrossEntropy"
                loss["module"] = "recipes.translation.model"
                del loss["config"]["ignore_class"]
                data = json.dumps(config).encode()
            target.writestr(entry, data)
    loaded = keras.models.load_model(path)
    assert type(loaded.loss) is toolkit.losses.LabelSmoothedCrossEntropy
    assert loaded.loss.label_smoothing == pytest.approx(0.1)
    assert loaded.loss.ignore_class == translation_model.PAD
    np.testing.assert_allclose(
        loaded.evaluate(inputs, targets, verbose=0),
        model.evaluate(inputs, targets, verbose=0),
        rtol=1e-6,
    )
