import datetime as dt
import json

import pytest

from analytics.datasets import BUNDLED_ID
from analytics.errors import DataError, ParameterError
from dashboard.service import SegmentParams, Service


@pytest.fixture
def service(settings):
    return Service(settings)


def test_dataset_cleaned_once_and_results_memoised(service, monkeypatch):
    tx = service.transactions(BUNDLED_ID)
    assert tx.height == 1_027_016
    assert service.report(BUNDLED_ID).customers == 5_939
    first = service.segmentation(BUNDLED_ID, SegmentParams(k=3))
    # a second service on the same cache folder (another worker) must not recompute
    other = Service(service.settings)
    monkeypatch.setattr(
        "analytics.segmentation.Segmenter.fit", lambda *a, **k: pytest.fail("recomputed")
    )
    monkeypatch.setattr("dashboard.service.open_dataset", lambda *a, **k: pytest.fail("re-cleaned"))
    again = other.segmentation(BUNDLED_ID, SegmentParams(k=3))
    assert again.assignments.equals(first.assignments)
    assert other.transactions(BUNDLED_ID).height == tx.height


def test_segmentation_result(service):
    result = service.segmentation(
        BUNDLED_ID, SegmentParams(features=("recency_days", "frequency", "monetary"), k=4)
    )
    assert result.coordinates.shape == (5_878, 3)
    assert result.assignments.columns == ["customer_id", "segment", "segment_name"]
    assert result.metrics.n_segments == 4
    assert len(result.profile.personas) == 4


def test_parameter_errors_surface(service):
    with pytest.raises(ParameterError, match="The 'k' parameter must be an int in"):
        service.segmentation(BUNDLED_ID, SegmentParams(k=1))


def test_concurrent_misses_compute_once(service):
    import threading
    import time

    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.5)
        return len(calls)

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(service._memo("test:slow", slow)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and results == [1, 1, 1, 1]
    # another worker (a new service on the same folder) reads it from disk
    assert Service(service.settings)._memo("test:slow", slow) == 1 and calls == [1]


@pytest.mark.parametrize("dataset_id", ["../../etc/passwd", "u-123", "u-" + "0" * 32, None])
def test_unknown_dataset_ids_never_build_paths(service, dataset_id):
    with pytest.raises(DataError, match="is not available"):
        service.source(dataset_id)


def test_overview_and_date_range(service):
    first, last = service.date_range(BUNDLED_ID)
    assert (first, last) == (dt.date(2009, 12, 1), dt.date(2011, 12, 9))
    overview = service.overview(BUNDLED_ID, dt.date(2011, 1, 1), dt.date(2011, 6, 30))
    assert [k.key for k in overview.kpis][:3] == ["customers", "active_customers", "revenue"]
    assert overview.trend.height == 6
    # read from the log summed per invoice, as fast pages do: the same numbers as the log's lines
    from polars.testing import assert_frame_equal

    from analytics.kpis import period_overview

    lines = period_overview(
        service.transactions(BUNDLED_ID), dt.date(2011, 1, 1), dt.date(2011, 6, 30)
    )
    for a, b in zip(lines.kpis, overview.kpis, strict=True):
        assert (a.value, a.previous) == pytest.approx((b.value, b.previous), rel=1e-12)
    assert_frame_equal(lines.trend, overview.trend)
    assert_frame_equal(lines.countries, overview.countries)
    assert_frame_equal(lines.rfm, overview.rfm)


def test_cache_keys_carry_the_code_version(service):
    assert service.fingerprint(BUNDLED_ID).endswith(f"-{service.version}")
    assert len(service.version) == 12


def test_params_keep_their_cache_key_through_json():
    import json

    from dashboard.service import BasketParams

    basket = BasketParams(0.01, 0.3, 1.0)
    assert BasketParams(**json.loads(json.dumps(basket.to_dict()))).key() == basket.key()
    segment = SegmentParams(eps=1.0)
    assert SegmentParams.from_dict(json.loads(json.dumps(segment.to_dict()))).key() == segment.key()


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("orders.CSV", ".csv"),
        ("log.csv.gz", ".csv.gz"),
        ("export.xlsx", ".xlsx"),
        ("data.parquet", ".parquet"),
        ("x.txt", ".txt"),
    ],
)
def test_upload_suffixes(name, suffix):
    from dashboard.service import upload_suffix

    assert upload_suffix(name) == suffix


@pytest.mark.parametrize("name", ["evil.py", "data.pkl", "archive.zip", "noext", "x.xlsx.gz"])
def test_other_uploads_are_refused(name):
    from dashboard.service import upload_suffix

    with pytest.raises(DataError, match="unsupported file type. Upload a CSV"):
        upload_suffix(name)


def test_upload_is_stored_as_given_under_a_random_id(service):
    content = b"Customer,Date,Total\n00017,2011-01-05,10.5\n00017,2011-02-05,4\n" + b"".join(
        f"c{i},2011-0{1 + i % 9}-1{i % 10},{i}\n".encode() for i in range(60)
    )
    dataset_id, columns = service.save_upload(content, "../../etc/passwd.csv")
    folder = service.upload_dir(dataset_id)
    assert folder.parent == service.settings.cache_dir / "uploads"
    assert (folder / "passwd.csv").read_bytes() == content
    assert columns == ["Customer", "Date", "Total"]
    with pytest.raises(DataError, match="no column mapping yet"):
        service.source(dataset_id)
    service.configure_upload(
        dataset_id, {"customer_id": "Customer", "invoice_date": "Date", "amount": "Total"}, None
    )
    source = service.source(dataset_id)
    assert source.label == "../../etc/passwd.csv" and source.path == folder / "passwd.csv"
    report = service.report(dataset_id)
    assert report.rows_in == 62 and report.customers == 60  # c0 spent 0: removed as non-positive
    assert service.transactions(dataset_id)["customer_id"][0] == "00017"
    other, _ = service.save_upload(content, "orders.csv")
    assert other != dataset_id


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"min_support": 0}, "The 'min_support' parameter must be a number in (0.0, 1.0]"),
        ({"min_support": 1.5}, "Got 1.5 instead."),
        ({"min_confidence": -0.1}, "The 'min_confidence' parameter must be a number in [0, 1]"),
        ({"min_lift": -1}, "The 'min_lift' parameter must be a number >= 0"),
        ({"scope": "region"}, "The 'scope' parameter must be one of 'all', 'segment', 'country'"),
        ({"scope": "all", "scope_value": "UK"}, "A scope value only goes with"),
        ({"scope": "segment", "scope_value": "VIP"}, "must be a segment number. Got 'VIP'"),
        ({"start": "01/02/2011"}, "The 'start' date must be written YYYY-MM-DD"),
        ({"start": "2011-03-01", "end": "2011-02-01"}, "The period ends (2011-02-01) before"),
        ({"min_item_baskets": 0}, "The 'min_item_baskets' parameter must be an int in [1,"),
        ({"max_basket_size": 2.5}, "The 'max_basket_size' parameter must be an int"),
    ],
)
def test_basket_params_validate_themselves(values, message):
    from analytics.errors import ParameterError
    from dashboard.service import BasketParams

    with pytest.raises(ParameterError) as info:
        BasketParams(**values)
    assert message in str(info.value)


def test_basket_params_survive_json():
    from dashboard.service import BasketParams

    params = BasketParams(min_support=0.02, min_confidence=1, min_lift=1, start="2011-01-01")
    again = BasketParams(**json.loads(json.dumps(params.to_dict())))
    assert again == params and again.key() == params.key() and again.min_confidence == 1.0


def test_a_new_confidence_reuses_the_mined_itemsets(service, monkeypatch):
    from dashboard.service import BasketParams

    first = BasketParams(min_support=0.02, min_confidence=0.3)
    assert service.quick_rules(BUNDLED_ID, first) is None  # never mined: needs the job
    mined = service.rules(BUNDLED_ID, first)
    monkeypatch.setattr("analytics.baskets.mine_rules", lambda *a, **k: pytest.fail("mined again"))
    stricter = BasketParams(min_support=0.02, min_confidence=0.6, min_lift=2.0)
    quick = service.quick_rules(BUNDLED_ID, stricter)
    assert quick is not None and quick.itemsets.equals(mined.itemsets)
    assert (quick.rules["confidence"] >= 0.6).all() and (quick.rules["lift"] >= 2.0).all()
    assert service.cached_rules(BUNDLED_ID, stricter) is not None
    # another support is a new mining
    assert service.quick_rules(BUNDLED_ID, BasketParams(min_support=0.03)) is None
