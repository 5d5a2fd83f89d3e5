"""Strict JSON: checks for JSON read back from files (baselines, reports), errors naming the JSON path, and
the one way the project writes JSON (no NaN or Infinity token, ever). Pure."""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence, Type, TypeVar

T = TypeVar("T")
_REQUIRED: Any = object()


class SchemaError(ValueError):
    """Stored data that is not of the expected schema; the message says where and what."""


def loads(text: str) -> Any:
    """JSON text as the standard has it: the NaN, Infinity and -Infinity that Python accepts are refused."""
    return json.loads(text, parse_constant=_refuse_constant)


def dumps(data: Any, **options: Any) -> str:
    """`data` as strict JSON text: a NaN or infinity raises ValueError instead of writing a token readers refuse."""
    return json.dumps(data, allow_nan=False, **options)


def require_json(value: Any, where: str) -> None:
    """SchemaError naming the path under `where` of the first part of `value` that strict JSON cannot hold:
    a NaN or infinity, a key that is not text or an integer, or an object of another type (a set, a path, ...)."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SchemaError(f"{where}: {value} is not a finite number (JSON has no NaN or infinity)")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            require_json(item, f"{where}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int)) and key is not None:  # json writes int, bool and None keys as text
                raise SchemaError(f"{where}: key {key!r} is not a string (JSON keys are strings)")
            require_json(item, f"{where}.{key}")
        return
    raise SchemaError(f"{where}: a {type(value).__name__} is not a JSON value (use numbers, strings, lists, dicts)")


def _refuse_constant(token: str) -> Any:
    raise SchemaError(f"{token} is not a JSON number (values are finite)")


def require_object(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise SchemaError(f"{where}: expected an object, found {type(data).__name__}")
    return data


def field(data: Mapping[str, Any], key: str, kind: Type[T], where: str, default: Any = _REQUIRED) -> T:
    """`data[key]`, which must be a `kind`; `default` when absent, if one is given."""
    if key not in data:
        if default is _REQUIRED:
            raise SchemaError(f"{where}: missing field {key!r}")
        return default  # type: ignore[no-any-return]  # the caller's default, of its choosing
    value = data[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise SchemaError(f"{where}.{key}: expected {kind.__name__}, found {type(value).__name__}")
    return value


def choice(data: Mapping[str, Any], key: str, allowed: Sequence[str], where: str) -> str:
    value = field(data, key, str, where)
    if value not in allowed:
        raise SchemaError(f"{where}.{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def number(value: Any, where: str) -> float:
    """A finite JSON number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{where}: expected a number, found {value!r}")
    try:
        result = float(value)
    except OverflowError:
        raise SchemaError(f"{where}: {value} is too large for a float") from None
    if not math.isfinite(result):
        raise SchemaError(f"{where}: expected a finite number, found {value!r}")
    return result


def optional_number(data: Mapping[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    return None if value is None else number(value, f"{where}.{key}")


def strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    """A list of strings (empty when absent)."""
    values = field(data, key, list, where, [])
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise SchemaError(f"{where}.{key}[{index}]: expected a string, found {value!r}")
    return tuple(values)
