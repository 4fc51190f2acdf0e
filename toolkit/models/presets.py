"""The preset folder: a task model as readable configs plus weights.

keras-hub's layout and file names, written and read with public Keras API
(`keras.saving.serialize_keras_object`, `save_weights`, `save_assets`):

```
config.json          the backbone (its constructor arguments)
model.weights.h5     the backbone's weights
task.json            the task (its arguments, the preprocessor's config inside)
task.weights.h5      all the task's weights (backbone and head)
preprocessor.json    the preprocessor alone
assets/tokenizer/    files of a tokenizer whose vocabulary is not in its config
metadata.json        versions, parameter count, date, class
```

The backbone's weights are stored twice (alone, and inside the task's) so
that `RecurrentTextBackbone.from_preset` and a task with a new head
(`TextClassifier.from_preset(folder, num_classes=5)`) read a file of their own;
keras-hub stores the head's weights alone instead, which needs Keras'
undocumented `objects_to_skip`. Only local folders are read (keras-hub also
reads Kaggle and Hugging Face handles).
"""

import datetime
import json
import pathlib
import warnings

import keras

BACKBONE_CONFIG = "config.json"
BACKBONE_WEIGHTS = "model.weights.h5"
TASK_CONFIG = "task.json"
TASK_WEIGHTS = "task.weights.h5"
PREPROCESSOR_CONFIG = "preprocessor.json"
METADATA = "metadata.json"
TOKENIZER_ASSETS = pathlib.Path("assets") / "tokenizer"


def _write_json(path, value):
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def _serialize(obj):
    config = keras.saving.serialize_keras_object(obj)
    # Training state is not part of a preset (keras-hub drops them too).
    for key in ("compile_config", "build_config"):
        config.pop(key, None)
    return config


def _read_config(cls, preset_dir, file_name):
    """The serialized object in `preset_dir/file_name`, checked to be a `cls`."""
    path = pathlib.Path(preset_dir) / file_name
    if not path.is_file():
        raise ValueError(
            f"Argument `preset_dir` expected a preset folder holding {file_name} "
            f"(written by `save_to_preset`). Received: preset_dir={str(preset_dir)!r}"
        )
    config = json.loads(path.read_text(encoding="utf-8"))
    saved_class = keras.saving.get_registered_object(config.get("registered_name"))
    if not (isinstance(saved_class, type) and issubclass(saved_class, cls)):
        raise ValueError(
            f"{cls.__name__}.from_preset: {path} holds a "
            f"{config.get('registered_name')!r}, not a {cls.__name__}"
        )
    return config


def _deserialize(config, overrides):
    config = dict(config, config={**config["config"], **overrides})
    return keras.saving.deserialize_keras_object(config)


def _save_tokenizer_assets(preprocessor, preset_dir):
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if hasattr(tokenizer, "save_assets"):
        folder = preset_dir / TOKENIZER_ASSETS
        folder.mkdir(parents=True, exist_ok=True)
        tokenizer.save_assets(str(folder))


def _load_tokenizer_assets(preprocessor, preset_dir):
    tokenizer = getattr(preprocessor, "tokenizer", None)
    folder = pathlib.Path(preset_dir) / TOKENIZER_ASSETS
    if hasattr(tokenizer, "load_assets") and folder.is_dir():
        tokenizer.load_assets(str(folder))


def _write_metadata(model, preset_dir):
    import toolkit

    _write_json(
        preset_dir / METADATA,
        {
            "class": keras.saving.get_registered_name(type(model)),
            "toolkit_version": toolkit.__version__,
            "keras_version": keras.version(),
            "parameter_count": model.count_params(),
            "date_saved": datetime.datetime.now().isoformat(timespec="seconds"),
        },
    )


def save_backbone_preset(backbone, preset_dir):
    preset_dir = pathlib.Path(preset_dir)
    preset_dir.mkdir(parents=True, exist_ok=True)
    _write_json(preset_dir / BACKBONE_CONFIG, _serialize(backbone))
    backbone.save_weights(preset_dir / BACKBONE_WEIGHTS)
    _write_metadata(backbone, preset_dir)


def load_backbone_preset(cls, preset_dir, load_weights=True, **kwargs):
    backbone = _deserialize(_read_config(cls, preset_dir, BACKBONE_CONFIG), kwargs)
    if load_weights:
        backbone.load_weights(pathlib.Path(preset_dir) / BACKBONE_WEIGHTS)
    return backbone


def save_preprocessor_preset(preprocessor, preset_dir):
    preset_dir = pathlib.Path(preset_dir)
    preset_dir.mkdir(parents=True, exist_ok=True)
    _write_json(preset_dir / PREPROCESSOR_CONFIG, _serialize(preprocessor))
    _save_tokenizer_assets(preprocessor, preset_dir)


def load_preprocessor_preset(cls, preset_dir, **kwargs):
    preprocessor = _deserialize(_read_config(cls, preset_dir, PREPROCESSOR_CONFIG), kwargs)
    _load_tokenizer_assets(preprocessor, preset_dir)
    return preprocessor


def save_task_preset(task, preset_dir):
    preset_dir = pathlib.Path(preset_dir)
    preset_dir.mkdir(parents=True, exist_ok=True)
    _write_json(preset_dir / TASK_CONFIG, _serialize(task))
    task.save_weights(preset_dir / TASK_WEIGHTS)
    if getattr(task, "backbone", None) is not None:  # a Translator is one graph, no backbone
        save_backbone_preset(task.backbone, preset_dir)
    if task.preprocessor is not None:
        save_preprocessor_preset(task.preprocessor, preset_dir)
    _write_metadata(task, preset_dir)


def load_task_preset(cls, preset_dir, load_weights=True, new_head=False, **kwargs):
    """The task of `preset_dir`; with `new_head`, only the backbone's weights are loaded."""
    task = _deserialize(_read_config(cls, preset_dir, TASK_CONFIG), kwargs)
    if task.preprocessor is not None and "preprocessor" not in kwargs:
        _load_tokenizer_assets(task.preprocessor, preset_dir)
    if load_weights:
        preset_dir = pathlib.Path(preset_dir)
        if new_head:
            task.backbone.load_weights(preset_dir / BACKBONE_WEIGHTS)
        else:
            with warnings.catch_warnings():
                # Keras writes the optimizer's state into the weights file; a
                # model from a preset starts with a fresh optimizer.
                warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
                task.load_weights(preset_dir / TASK_WEIGHTS)
    return task
