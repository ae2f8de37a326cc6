import pytest

from analytics.words import count_of, plural


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "0 baskets"), (1, "1 basket"), (2, "2 baskets"), (36_308, "36,308 baskets")],
)
def test_count_of_follows_the_number(n, expected):
    assert count_of(n, "basket") == expected
    assert plural(n, "basket") == expected.split(" ", 1)[1]
