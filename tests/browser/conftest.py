import socket

import pytest

from dashboard.settings import Settings


def free_port() -> int:
    """A free loopback port, so several test runs on one machine never share Dash's 8050."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app(tmp_path):
    from dashboard.app import create_app

    return create_app(
        Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path / "cache"), "SEGMENTA_WARM_UP": "0"})
    )


@pytest.fixture
def dash_duo(dash_duo):
    """dash_duo with a laptop-sized window (the default 780x580 stacks every column).

    ``start_server`` picks a free port unless one is given.
    """
    dash_duo.driver.set_window_size(1400, 1000)
    start = dash_duo.start_server

    def start_server(app, **kwargs):
        kwargs.setdefault("port", free_port())
        return start(app, **kwargs)

    dash_duo.start_server = start_server
    return dash_duo
