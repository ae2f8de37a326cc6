"""Reporting-period presets, relative to the data's last day."""

import datetime as dt

import pytest

from analytics.errors import ParameterError
from analytics.periods import PRESETS, default_period, preset_period

FIRST, LAST = dt.date(2009, 12, 1), dt.date(2011, 12, 9)
D = dt.date


@pytest.mark.parametrize(
    ("preset", "current", "expected"),
    [
        ("last-30", None, (D(2011, 11, 10), D(2011, 12, 9))),
        ("last-90", None, (D(2011, 9, 11), D(2011, 12, 9))),
        ("qtd", None, (D(2011, 10, 1), D(2011, 12, 9))),
        ("ytd", None, (D(2011, 1, 1), D(2011, 12, 9))),
        ("last-12m", None, (D(2010, 12, 10), D(2011, 12, 9))),
        ("all", None, (FIRST, LAST)),
        ("last-year", None, (D(2009, 12, 10), D(2010, 12, 9))),
        ("last-year", (D(2011, 10, 1), D(2011, 12, 9)), (D(2010, 10, 1), D(2010, 12, 9))),
        # clipped to the data: a year before Jan 2010 starts before the data does
        ("last-year", (D(2010, 11, 15), D(2011, 1, 31)), (FIRST, D(2010, 1, 31))),
        ("last-year", (D(2012, 2, 29), D(2012, 2, 29)), (D(2011, 2, 28), D(2011, 2, 28))),
    ],
)
def test_presets(preset, current, expected):
    last = max(LAST, current[1]) if current else LAST
    assert preset_period(preset, FIRST, last, current) == expected


def test_default_is_the_last_twelve_months_or_all_data():
    assert default_period(FIRST, LAST) == (D(2010, 12, 10), LAST)
    assert default_period(D(2011, 6, 1), LAST) == (D(2011, 6, 1), LAST)


@pytest.mark.parametrize(
    ("preset", "current", "message"),
    [
        ("week", None, "The 'preset' parameter must be one of 'last-30'"),
        (
            "last-year",
            (D(2009, 12, 1), D(2010, 1, 31)),
            "A year before 01 Dec 2009 – 31 Jan 2010 is before the data starts (01 Dec 2009)",
        ),
    ],
)
def test_preset_errors(preset, current, message):
    with pytest.raises(ParameterError) as info:
        preset_period(preset, FIRST, LAST, current)
    assert message in str(info.value) and info.value.parameter == "preset"


def test_every_preset_has_a_label():
    assert all(PRESETS.values()) and len(PRESETS) == 7
