"""Every page's layout renders with no deprecation warning (Dash 4 deprecates DataTable)."""

import sys
import warnings

import dash
import pytest


@pytest.fixture
def pages(app):
    return [p for p in dash.page_registry.values() if p.get("layout")]


def test_every_page_renders_without_warnings(app, pages):
    assert len(pages) >= 7
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with app.server.test_request_context("/"):
            for page in pages:
                layout = page["layout"]
                assert (layout() if callable(layout) else layout) is not None, page["name"]
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "DataTable" in m or "deprecat" in m.lower()], messages


def test_no_page_uses_the_deprecated_datatable(app):
    for name, module in sys.modules.items():
        if name.startswith(("dashboard.", "analytics.")):
            assert not hasattr(module, "dash_table"), name
