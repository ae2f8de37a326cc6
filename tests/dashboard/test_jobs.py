import pytest

from analytics.datasets import BUNDLED_ID
from analytics.errors import ParameterError
from dashboard.jobs import run_task
from dashboard.service import SegmentParams, Service


def test_sweep_runs_in_a_fresh_process_with_progress(settings):
    seen = []
    result = run_task(
        settings,
        "sweep",
        progress=lambda done, total, text: seen.append((done, total)),
        dataset_id=BUNDLED_ID,
        params=SegmentParams(features=("recency_days", "frequency", "monetary")).to_dict(),
    )
    assert 2 <= result["recommended_k"] <= 10 and "k=" in result["reason"]
    assert seen[-1] == (9, 9) and len(seen) == 9
    # the job wrote its result to the shared cache: the web process reads it without recomputing
    cached = Service(settings).cached_sweep(
        BUNDLED_ID, SegmentParams(features=("recency_days", "frequency", "monetary"))
    )
    assert cached is not None and cached.recommended_k == result["recommended_k"]


def test_user_errors_keep_their_class_and_message(settings):
    with pytest.raises(ParameterError, match="Unknown feature 'loyalty'"):
        run_task(
            settings,
            "sweep",
            dataset_id=BUNDLED_ID,
            params=SegmentParams(features=("loyalty",)).to_dict(),
        )
