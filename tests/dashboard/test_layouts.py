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


def _outputs(app) -> set[str]:
    response = app.server.test_client().get("/_dash-dependencies")
    assert response.status_code == 200
    return {d["output"] for d in response.get_json()}


def test_a_second_app_in_the_process_gets_every_callback(settings):
    """Callbacks registered at a component module's import reached only the first app built.

    The test suite builds one app per test; the second one's Customer page never filled its
    "Alive or gone" section.
    """
    from dashboard.app import create_app

    first = create_app(settings)
    served_first = _outputs(first)  # Dash hands an app the registered callbacks on first request
    second = create_app(settings)
    assert any("customer-alive-facts.children" in o for o in served_first)
    assert _outputs(second) == served_first


def test_an_idle_self_starting_job_shows_no_cancel_button():
    """The Cancel of a job that starts by itself sits in its progress block, hidden until it runs."""
    from dashboard.background import create_job_progress

    block = create_job_progress("customer-explain")
    status = block.children
    assert status.id == "customer-explain-status" and status.style == {"display": "none"}
    assert "customer-explain-cancel" in str(status)


def test_customer_profile_does_not_wait_for_the_explanation_job(settings):
    """Dash holds a callback back until the callbacks producing its inputs have run: the profile
    and the Alive card waited seconds for the explanation job when they took its token as input."""
    from dashboard.app import create_app

    response = create_app(settings).server.test_client().get("/_dash-dependencies")
    callbacks = response.get_json()
    job_outputs = {
        o
        for c in callbacks
        if "customer-explain-token.data" in c["output"]
        for o in c["output"].strip(".").split("...")
    }
    for c in callbacks:
        if "customer-profile.children" in c["output"] or "customer-alive-facts" in c["output"]:
            inputs = {f"{i['id']}.{i['property']}" for i in c["inputs"]}
            assert "customer-search.value" in inputs and not inputs & job_outputs, c["output"]
