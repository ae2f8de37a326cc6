import pytest

from dashboard.settings import Settings


@pytest.fixture
def app(tmp_path):
    from dashboard.app import create_app

    return create_app(Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path / "cache")}))


@pytest.fixture
def dash_duo(dash_duo):
    """dash_duo with a laptop-sized window (the default 780x580 stacks every column)."""
    dash_duo.driver.set_window_size(1400, 1000)
    return dash_duo
