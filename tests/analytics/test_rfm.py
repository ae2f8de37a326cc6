import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.rfm import RFM_SEGMENTS, SEGMENT_GRID, quintile_scores, rfm_summary, rfm_table


def scores(values, higher_is_better=True):
    frame = pl.DataFrame({"v": values})
    return (
        frame.select(quintile_scores(pl.col("v"), higher_is_better=higher_is_better))
        .to_series()
        .to_list()
    )


def test_quintiles_by_hand():
    assert scores([10, 20, 30, 40, 50]) == [1, 2, 3, 4, 5]
    assert scores(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores([10, 20, 30, 40, 50], higher_is_better=False) == [5, 4, 3, 2, 1]


def test_ties_share_a_score():
    # six one-order customers out of ten: average rank 3.5 -> score 2 for all six
    assert scores([1, 1, 1, 1, 1, 1, 2, 3, 4, 5]) == [2, 2, 2, 2, 2, 2, 4, 4, 5, 5]


def test_grid_names_every_cell_with_the_eleven_segments():
    names = {name for row in SEGMENT_GRID.values() for name in row}
    assert names == set(RFM_SEGMENTS)
    assert len(names) == 11
    assert all(len(row) == 5 for row in SEGMENT_GRID.values()) and set(SEGMENT_GRID) == {
        1,
        2,
        3,
        4,
        5,
    }


def test_table_by_hand():
    features = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "recency_days": [1.0, 2.0, 3.0, 4.0, 5.0],
            "frequency": [5, 4, 3, 2, 1],
            "monetary": [500.0, 400.0, 300.0, 200.0, 100.0],
        }
    )
    table = rfm_table(features)
    assert table["rfm_score"].to_list() == ["555", "444", "333", "222", "111"]
    assert table["rfm_segment"].to_list() == [
        "Champions",
        "Loyal Customers",
        "Need Attention",
        "Hibernating",
        "Lost",
    ]
    summary = rfm_summary(table)
    assert summary["customers"].sum() == 5
    assert summary["share"].sum() == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 1000), st.integers(1, 50), st.floats(-100, 1e5)),
        min_size=1,
        max_size=80,
    )
)
def test_every_customer_is_scored_and_named(rows):
    features = pl.DataFrame(
        {
            "customer_id": [str(i) for i in range(len(rows))],
            "recency_days": [r[0] for r in rows],
            "frequency": [r[1] for r in rows],
            "monetary": [r[2] for r in rows],
        }
    )
    table = rfm_table(features)
    assert table.height == len(rows)
    assert table["rfm_segment"].null_count() == 0
    for col in ("r_score", "f_score", "m_score", "fm_score"):
        assert table[col].is_between(1, 5).all()


def test_bundled_rfm_covers_all_customers(bundled):
    from analytics.features import customer_features

    table = rfm_table(customer_features(bundled.transactions))
    assert table["rfm_segment"].null_count() == 0
    assert set(table["rfm_segment"]) == set(RFM_SEGMENTS)
