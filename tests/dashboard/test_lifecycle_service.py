import datetime as dt

import pytest

from analytics.datasets import BUNDLED_ID
from analytics.errors import ParameterError
from dashboard.jobs import run_task
from dashboard.service import Service


def test_migration_job_fills_the_cache_the_page_reads(settings):
    seen = []
    result = run_task(
        settings,
        "migration",
        progress=lambda done, total, text: seen.append(text),
        dataset_id=BUNDLED_ID,
        start="2011-10-01",
        end="2011-12-10",
        by="rfm",
        params={},
    )
    assert result == {"customers": 5_878}
    assert seen[-1] == "Done"
    svc = Service(settings)
    assert svc.migration_dates(BUNDLED_ID) == (dt.date(2011, 10, 1), dt.date(2011, 12, 10))
    migration = svc.cached_migration(BUNDLED_ID, dt.date(2011, 10, 1), dt.date(2011, 12, 10))
    assert migration is not None and migration.moves.height == 5_878
    sizes = svc.cached_segment_sizes(BUNDLED_ID)
    assert sizes is not None and sizes["date"].n_unique() == 13


def test_migration_job_reports_bad_dates(settings):
    with pytest.raises(ParameterError, match="'from' date must be before the 'to' date"):
        run_task(
            settings,
            "migration",
            dataset_id=BUNDLED_ID,
            start="2011-12-10",
            end="2011-10-01",
            by="rfm",
            params={},
        )
