import pytest

from dashboard.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env(
        {"SEGMENTA_CACHE_DIR": str(tmp_path / "cache"), "SEGMENTA_WARM_UP": "0"}
    )


@pytest.fixture
def app(settings):
    from dashboard.app import create_app

    return create_app(settings)
