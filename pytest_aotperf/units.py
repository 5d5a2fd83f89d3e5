"""Parsing and formatting of the quantities users write: "5%", "2 ms", "1.5 GiB"."""

from __future__ import annotations

import math
import re
from typing import Tuple, Union

TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
BYTE_UNITS = {
    "B": 1,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}
COUNT = "count"
"""The unit of counted things (graphs, replays): shown as a bare number."""
MAX_TOLERANCE_PERCENT = 1000.0
"""A tolerance above 1000% (a metric 11 times worse passing) is a mistake, not a tolerance."""
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ/%]*)\s*$")


class QuantityError(ValueError):
    """A value the user wrote that is not a quantity we accept; the message says what is."""


def parse_percent(text: Union[str, float, int]) -> float:
    """A tolerance as a fraction: "5%" or 5 -> 0.05. Bare numbers are percent, as in --aot-tolerance=10."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        number = float(text)
    else:
        match = _QUANTITY.match(str(text))
        if not match or match.group(2) not in ("", "%"):
            raise QuantityError(f"{text!r} is not a percentage; write it like '5%' or 5")
        number = float(match.group(1))
    if not math.isfinite(number):
        raise QuantityError(f"{text!r} is not a finite percentage")
    if number < 0:
        raise QuantityError(f"{text!r}: a tolerance cannot be negative")
    if number > MAX_TOLERANCE_PERCENT:
        raise QuantityError(f"{text!r}: a tolerance above {MAX_TOLERANCE_PERCENT:g}% judges nothing")
    return number / 100.0


def split_quantity(text: Union[str, float, int]) -> Tuple[float, str]:
    """(number, unit as written); numbers have no unit. The number must be finite."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        number, unit = float(text), ""
    else:
        match = _QUANTITY.match(str(text))
        if not match:
            raise QuantityError(f"{text!r} is not a quantity; write a number and a unit, like '2 ms' or '1.5 GiB'")
        number, unit = float(match.group(1)), match.group(2)
    if not math.isfinite(number):
        raise QuantityError(f"{text!r} is not a finite quantity")
    return number, unit


def parse_quantity(text: Union[str, float, int], unit: str) -> float:
    """`text` in the SI base of `unit` ("s" or "B"); other units must be written as the metric's own."""
    number, written = split_quantity(text)
    if not written:
        return number
    if unit == "s":
        scale = TIME_UNITS.get(written)
        accepted = ", ".join(TIME_UNITS)
    elif unit == "B":
        scale = BYTE_UNITS.get(written)
        accepted = ", ".join(BYTE_UNITS)
    else:
        scale = 1.0 if written == unit else None
        accepted = f"'{unit}' or no unit"
    if scale is None:
        raise QuantityError(
            f"{text!r}: unknown unit {written!r} for a metric measured in {unit or 'plain numbers'}; "
            f"accepted: {accepted}"
        )
    return number * scale


def format_quantity(value: float, unit: str) -> str:
    """A readable rendering: 0.00231 s -> '2.31 ms', 1610612736 B -> '1.50 GiB'."""
    if unit == "s":
        for name, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
            if abs(value) >= scale:
                return f"{_three_digits(value / scale)} {name}"
        return f"{_three_digits(value / 1e-9)} ns"
    if unit == "B":
        for name in ("GiB", "MiB", "KiB"):
            if abs(value) >= BYTE_UNITS[name]:
                return f"{_three_digits(value / BYTE_UNITS[name])} {name}"
        return f"{value:.0f} B"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if unit == COUNT:
        return text
    return f"{text} {unit}" if unit else text


def _three_digits(number: float) -> str:
    """Three significant digits, trailing zeros kept (1.20, 12.0, 120); whole numbers from 1000 (1,010)."""
    text = f"{number:#.3g}".rstrip(".")
    return f"{number:,.0f}" if "e" in text else text
