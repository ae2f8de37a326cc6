import pytest

from dashboard.formatting import fmt_change, fmt_count, fmt_money, fmt_percent


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
