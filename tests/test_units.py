import pytest

from pytest_aotperf.units import QuantityError, format_quantity, parse_percent, parse_quantity


@pytest.mark.parametrize("text, fraction", [("5%", 0.05), (10, 0.10), ("2.5", 0.025), ("0%", 0.0)])
def test_percentages(text, fraction):
    assert parse_percent(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["5 parsecs", "fast", "-3%"])
def test_bad_percentages_say_how_to_write_them(text):
    with pytest.raises(QuantityError):
        parse_percent(text)


@pytest.mark.parametrize(
    "text, unit, value",
    [
        ("2 ms", "s", 0.002),
        ("150us", "s", 150e-6),
        ("1.5 GiB", "B", 1.5 * 2**30),
        ("64MB", "B", 64e6),
        ("1000 tokens/s", "tokens/s", 1000.0),
        (3, "s", 3.0),
    ],
)
def test_quantities_in_the_metrics_unit(text, unit, value):
    assert parse_quantity(text, unit) == pytest.approx(value)


def test_a_unit_of_the_wrong_kind_lists_the_accepted_ones():
    with pytest.raises(QuantityError, match="accepted: ns, us"):
        parse_quantity("5 parsecs", "s")
    with pytest.raises(QuantityError, match="GiB"):
        parse_quantity("2 ms", "B")


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (0.0012, "s", "1.20 ms"),
        (2.31e-3, "s", "2.31 ms"),
        (1.5 * 2**30, "B", "1.50 GiB"),
        (12345.6, "samples/s", "12,346 samples/s"),
    ],
)
def test_formatting(value, unit, text):
    assert format_quantity(value, unit) == text
