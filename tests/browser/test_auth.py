"""Signing in, and what a viewer sees when the server refuses a job."""

from dashboard.auth import VIEWER_REFUSED, WRONG_PASSWORD
from dashboard.users import UserStore

PASSWORD = "viewer password"


def _sign_in(dash_duo, name: str, password: str) -> None:
    dash_duo.wait_for_element("#login-button", timeout=30)
    dash_duo.find_element("#username").clear()
    dash_duo.find_element("#username").send_keys(name)
    dash_duo.find_element("#password").send_keys(password)
    dash_duo.find_element("#login-button").click()


def test_aut001_viewer_signs_in_and_cannot_train(dash_duo, app, tmp_path):
    dash_duo.start_server(app)  # no users yet: the single local user
    dash_duo.wait_for_contains_text("#topbar-user", "Single local user", timeout=30)
    # adding a user turns logins on at once, without a restart
    UserStore.for_settings(app.server.config["SEGMENTA_SETTINGS"]).add("vera", "viewer", PASSWORD)
    dash_duo.driver.get(dash_duo.server_url + "/churn")
    # signed out: the login page, then a clear message for a wrong password
    _sign_in(dash_duo, "vera", "not her password")
    dash_duo.wait_for_text_to_equal("#login-error", WRONG_PASSWORD, timeout=30)
    assert dash_duo.find_element("#username").get_attribute("value") == "vera"
    _sign_in(dash_duo, "vera", PASSWORD)
    # back on the page asked for, signed in as a viewer
    dash_duo.wait_for_text_to_equal("#topbar-user-name", "vera", timeout=30)
    assert dash_duo.find_element("#topbar-user-role").text == "(viewer)"
    # the models are not trained in this fresh cache: the server refuses to train them for her
    dash_duo.wait_for_text_to_equal(
        "#app-alert",
        VIEWER_REFUSED.format(what="train the churn and CLV models"),
        timeout=60,
    )
    assert dash_duo.get_logs() == []
    dash_duo.driver.get(dash_duo.server_url + "/logout")
    dash_duo.wait_for_element("#login-button", timeout=30)
