"""Recipe configs: dataclasses filled from YAML presets and `--set` overrides.

A recipe declares its config as a dataclass with typed fields and defaults.
`load_config(Config, preset, overrides)` starts from the defaults, applies a
YAML preset (a mapping of field names to values), then `key=value`
overrides in order. Every value is checked against the field's annotation;
unknown keys and wrong types are errors that name the preset file or the
override and what was received.

Supported annotations: `int`, `float` (integers are accepted), `str`,
`bool`, `X | None` / `Optional[X]` (`null` / `none` give `None`), and
`tuple[T, ...]` / `list[T]` of those (a YAML list or `a,b,c`).
"""

import dataclasses
import math
import pathlib
import types
import typing

import yaml

from recipes.runner.errors import UsageError

_UNIONS = (typing.Union, types.UnionType)


class ConfigError(UsageError):
    """A preset or an override that does not fit the recipe's config."""


def config_fields(config_class):
    """The field names and resolved annotations of a config dataclass."""
    hints = typing.get_type_hints(config_class)
    return {field.name: hints[field.name] for field in dataclasses.fields(config_class)}


def check_values(
    config,
    choices=None,
    positive=(),
    non_negative=(),
    fractions=(),
    positive_numbers=(),
):
    """Checks a config's values by rule; the first violation raises `ConfigError`.

    A `None` value passes every rule but `choices` (fields that may be null
    are annotated `X | None`, which `load_config` already enforces).

    Args:
        config: The config dataclass instance.
        choices: `{key: allowed values}`.
        positive: Keys of integers >= 1.
        non_negative: Keys of integers >= 0.
        fractions: Keys of numbers in [0, 1).
        positive_numbers: Keys of numbers > 0.
    """
    for key, allowed in (choices or {}).items():
        if getattr(config, key) not in allowed:
            raise ConfigError(
                f"Config key `{key}` expected one of {list(allowed)}. "
                f"Received: {getattr(config, key)!r}"
            )
    rules = [
        (positive, lambda v: v >= 1, "a positive integer"),
        (non_negative, lambda v: v >= 0, "a non-negative integer"),
        (fractions, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)"),
        (positive_numbers, lambda v: v > 0, "a positive number"),
    ]
    for keys, valid, expected in rules:
        for key in keys:
            value = getattr(config, key)
            if value is not None and not valid(value):
                nullable = " or null" if _may_be_null(config, key) else ""
                raise ConfigError(
                    f"Config key `{key}` expected {expected}{nullable}. Received: {value!r}"
                )


def check_training_values(config):
    """The checks of the training fields every recipe's config has.

    `strategy`, `epochs`, `batch_size`, `dropout`, `learning_rate`,
    `lr_schedule`, `global_clipnorm` (may be null), `patience` (may be null),
    `max_train_minutes` (may be null), `verbose`.
    """
    from recipes.runner.training import LR_SCHEDULES
    from recipes.runner.training import STRATEGIES

    check_values(
        config,
        choices={"strategy": STRATEGIES, "verbose": (0, 1, 2), "lr_schedule": LR_SCHEDULES},
        positive=("epochs", "batch_size"),
        non_negative=("patience",),
        fractions=("dropout",),
        positive_numbers=("learning_rate", "max_train_minutes", "global_clipnorm"),
    )


def _may_be_null(config, key):
    annotation = config_fields(type(config))[key]
    return typing.get_origin(annotation) in _UNIONS


def load_config(config_class, preset=None, overrides=()):
    """Builds a config from its defaults, a YAML preset and overrides.

    Args:
        config_class: The recipe's config dataclass.
        preset: Optional path to a YAML file holding a mapping of fields.
        overrides: Iterable of `"key=value"` strings, applied after the
            preset; values are read as YAML scalars (`3`, `0.5`, `true`,
            `null`, `[1, 2]`), except that `str` fields take the text as is
            (`none` / `null` is null only in a field that may be null).

    Returns:
        An instance of `config_class`.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or a preset
            that is not a YAML mapping.
    """
    fields = config_fields(config_class)
    values = {}
    if preset is not None:
        path = pathlib.Path(preset)
        if not path.is_file():
            raise ConfigError(f"Preset file not found. Received: --preset {preset}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or str(error)
            reason = " ".join(str(problem).split())  # one line
            raise ConfigError(f"Preset {path}{where} is not valid YAML: {reason}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"Preset {path} must be a mapping of config fields. "
                f"Received: a YAML {type(loaded).__name__}"
            )
        for key, value in loaded.items():
            where = f"preset {path}, key `{key}`"
            values[key] = _checked(fields, key, value, where)
    for override in overrides:
        key, separator, raw = override.partition("=")
        key = key.strip()
        if not separator:
            raise ConfigError(f"Override expected key=value. Received: --set {override!r}")
        where = f"--set {override}"
        annotation = _annotation(fields, key, where)
        # Text is taken as is by a `str` field; `none` / `null` is null only where null is
        # allowed, so a plain `str` field keeps a choice named "none" (`attention=none`).
        optional = typing.get_origin(annotation) in _UNIONS
        text = _base_type(annotation) is str and not (optional and _is_none_text(raw))
        value = raw if text else _yaml(raw)
        values[key] = _checked(fields, key, value, where)
    return config_class(**values)


def config_to_dict(config):
    """The config as a JSON-serializable dict (tuples become lists)."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dataclasses.asdict(config).items()
    }


# === Type checks ===


def _annotation(fields, key, where):
    if key not in fields:
        raise ConfigError(f"Unknown config key `{key}` ({where}). Known keys: {sorted(fields)}")
    return fields[key]


def _checked(fields, key, value, where):
    annotation = _annotation(fields, key, where)
    try:
        return _coerce(annotation, value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"Config key `{key}` expected {_describe(annotation)} ({where}). Received: {value!r}"
        ) from None


def _coerce(annotation, value):
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in _UNIONS:
        inner = [a for a in arguments if a is not type(None)]
        if value is None:
            return None
        return _coerce(inner[0], value)
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
            value = [_yaml(item) for item in value]
        if not isinstance(value, (list, tuple)):
            raise TypeError
        item_type = arguments[0] if arguments else str
        items = [_coerce(item_type, item) for item in value]
        return tuple(items) if origin is tuple else items
    if annotation is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError
        # YAML 1.1 (PyYAML) reads `1e-3` as a string: it wants `1.0e-3`.
        number = float(value)
        if not math.isfinite(number):  # `inf` trained a model of NaNs that passed every check
            raise ValueError
        return number
    if annotation is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    raise TypeError(f"unsupported config annotation {annotation!r}")


def _base_type(annotation):
    if typing.get_origin(annotation) in _UNIONS:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(inner[0])
    return annotation


def _describe(annotation):
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in _UNIONS:
        inner = [a for a in arguments if a is not type(None)]
        return f"{_describe(inner[0])} or null"
    if origin in (tuple, list):
        item = _describe(arguments[0]) if arguments else "str"
        return f"a list of {item}"
    return {bool: "a boolean", int: "an integer", float: "a finite number", str: "a string"}.get(
        annotation, repr(annotation)
    )


def _is_none_text(raw):
    return raw.strip().lower() in ("null", "none", "~")


def _yaml(raw):
    if _is_none_text(raw):
        return None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
