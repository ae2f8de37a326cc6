import pytest

from dashboard.formatting import fmt_change, fmt_count, fmt_money, fmt_p_value, fmt_percent


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7_975_117.7, "£7.98M"),
        (531_330, "£531.3k"),
        (1_870.3, "£1,870"),
        (48.5, "£48.50"),
        (-16_926, "-£16,926"),
        (None, "–"),
    ],
)
def test_money(value, expected):
    assert fmt_money(value) == expected


def test_counts_percent_change():
    assert fmt_count(17_756) == "17,756"
    assert fmt_percent(0.648) == "64.8%"
    assert fmt_change(0.363) == "▲ 36.3% vs previous period"
    assert fmt_change(-0.002) == "▼ 0.2% vs previous period"
    assert fmt_change(None) == "no earlier period to compare"


@pytest.mark.parametrize(
    ("value", "text"),
    [(-0.0001, "0.0%"), (-0.0004, "0.0%"), (-0.0006, "-0.1%"), (0.0, "0.0%"), (0.1234, "12.3%")],
)
def test_percent_never_prints_minus_zero(value, text):
    assert fmt_percent(value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(-0.001, "£0.00"), (-0.004, "£0.00"), (-0.4, "-£0.40"), (-120.4, "-£120")]
)
def test_money_never_prints_minus_zero(value, text):
    assert fmt_money(value) == text


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (-0.0001, "■ 0.0% vs previous period"),
        (0.0004, "■ 0.0% vs previous period"),
        (-0.0006, "▼ 0.1% vs previous period"),
    ],
)
def test_change_that_rounds_to_zero_is_no_change(change, text):
    assert fmt_change(change) == text


def test_change_over_shorter_windows_says_so():
    assert fmt_change(0.05, 200) == (
        "▲ 5.0% in the last 200 days vs the 200 before "
        "(too little history for a full previous period)"
    )


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0, "< 1e-300"),
        (1e-320, "< 1e-300"),
        (3.2e-12, "3.2e-12"),
        (0.0412, "0.041"),
        (0.5, "0.5"),
    ],
)
def test_p_values(p, text):
    assert fmt_p_value(p) == text


@pytest.mark.parametrize(
    ("change", "points", "expected"),
    [
        (0.316, 0.079, "▲ 7.9 pts vs previous period"),  # repeat rate 25.1% -> 33.0%
        (1.57, 0.09, "▲ 9.0 pts vs previous period"),
        (-0.5, -0.001, "▼ 0.1 pts vs previous period"),
        (0.0, 0.0, "■ 0.0 pts vs previous period"),
        (0.316, None, "▲ 31.6% vs previous period"),
    ],
)
def test_rates_change_in_points(change, points, expected):
    from dashboard.formatting import fmt_change

    assert fmt_change(change, points=points) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(2 / 5878, "<0.1%"), (0.0, "0.0%"), (-0.0001, "0.0%"), (0.25, "25.0%")]
)
def test_tiny_shares_are_not_zero(value, expected):
    from dashboard.formatting import fmt_percent

    assert fmt_percent(value) == expected
