"""Small helpers for driving Dash 4 components from selenium."""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def wait_until(predicate, timeout: float = 30, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail with a clear message."""
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s: {predicate.__doc__ or predicate}")


def slider_value(driver, slider_id: str) -> int:
    return int(
        driver.find_element(By.CSS_SELECTOR, f"#{slider_id} [role=slider]").get_attribute(
            "aria-valuenow"
        )
    )


def set_slider(driver, slider_id: str, value: int) -> None:
    """Move a Dash 4 (Radix) slider with the keyboard, as a user can."""
    thumb = driver.find_element(By.CSS_SELECTOR, f"#{slider_id} [role=slider]")
    steps = value - slider_value(driver, slider_id)
    key = Keys.ARROW_RIGHT if steps > 0 else Keys.ARROW_LEFT
    thumb.send_keys(*([key] * abs(steps)))
    wait_until(lambda: slider_value(driver, slider_id) == value, timeout=10)


def choose(driver, dropdown_id: str, label: str) -> None:
    """Open a Dash 4 dropdown and click the option with this label."""
    driver.find_element(By.ID, dropdown_id).click()
    option = wait_until(
        lambda: next(
            (
                o
                for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]")
                if o.text.strip() == label
            ),
            None,
        ),
        timeout=10,
    )
    option.click()


def table_rows(driver, table_id: str) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tr")) - 1


def search_and_choose(driver, dropdown_id: str, text: str) -> None:
    """Open a searchable Dash 4 dropdown, type into its search box and pick the exact match."""
    driver.find_element(By.ID, dropdown_id).click()
    box = wait_until(
        lambda: next(
            iter(
                driver.find_elements(
                    By.CSS_SELECTOR,
                    "[role=dialog] input, .dash-dropdown-search input, input.dash-dropdown-search",
                )
            ),
            None,
        ),
        timeout=10,
    )
    box.send_keys(text)
    option = wait_until(
        lambda: next(
            (
                o
                for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]")
                if o.text.strip() == text
            ),
            None,
        ),
        timeout=15,
    )
    option.click()
