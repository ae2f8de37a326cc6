"""Small helpers for driving Dash 4 components from selenium."""

from __future__ import annotations

import time

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def wait_until(predicate, timeout: float = 30, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail with a clear message.

    An element re-rendered while it is read (stale) counts as "not yet".
    """
    end = time.time() + timeout
    while time.time() < end:
        try:
            value = predicate()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s: {predicate.__doc__ or predicate}")


def click(driver, element) -> None:
    """Scroll into view and click; if a chart overlay covers the spot, click through the DOM."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    try:
        element.click()
    except ElementClickInterceptedException:
        driver.execute_script("arguments[0].click()", element)


def slider_value(driver, slider_id: str) -> float:
    thumb = driver.find_element(By.CSS_SELECTOR, f"#{slider_id} [role=slider]")
    return float(thumb.get_attribute("aria-valuenow"))


def set_slider(driver, slider_id: str, value: float, step: float = 1.0) -> None:
    """Move a Dash 4 (Radix) slider with the keyboard, as a user can."""
    thumb = driver.find_element(By.CSS_SELECTOR, f"#{slider_id} [role=slider]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", thumb)
    steps = round((value - slider_value(driver, slider_id)) / step)
    key = Keys.ARROW_RIGHT if steps > 0 else Keys.ARROW_LEFT
    thumb.send_keys(*([key] * abs(steps)))
    wait_until(lambda: slider_value(driver, slider_id) == value, timeout=10)


def choose(driver, dropdown_id: str, label: str) -> None:
    """Open a Dash 4 dropdown and click the option with this label."""
    click(driver, driver.find_element(By.ID, dropdown_id))
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
    click(driver, option)


def persona_cards(driver) -> int:
    """Segments the Segments page shows: one persona card each, on its first tab."""
    return len(driver.find_elements(By.CSS_SELECTOR, "#segments-personas .persona-card"))


def open_tab(driver, tabs_id: str, label: str) -> None:
    """Open the tab labelled ``label`` of the ``dbc.Tabs`` with id ``tabs_id``."""
    link = driver.find_element(By.XPATH, f"//*[@id='{tabs_id}']//a[normalize-space()='{label}']")
    click(driver, link)


def table_rows(driver, grid_id: str) -> int:
    """Rows an AG Grid shows (on its current page)."""
    return len(
        driver.find_elements(By.CSS_SELECTOR, f"#{grid_id} .ag-center-cols-container .ag-row")
    )


def column_values(driver, grid_id: str, field: str) -> list[str]:
    """The displayed text of one AG Grid column, top row first (pinned columns included)."""
    return driver.execute_script(
        """
        const cells = [...document.querySelectorAll(`#${arguments[0]} .ag-row [col-id="${arguments[1]}"]`)];
        return cells
          .map(c => [Number(c.closest('.ag-row').getAttribute('row-index')), c.innerText.trim()])
          .sort((a, b) => a[0] - b[0])
          .map(pair => pair[1]);
        """,
        grid_id,
        field,
    )


def search_and_choose(driver, dropdown_id: str, text: str) -> None:
    """Open a searchable Dash 4 dropdown, type into its search box and pick the exact match."""
    click(driver, driver.find_element(By.ID, dropdown_id))
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
    click(driver, option)


_MODEBAR_OVERLAPS = """
const hits = [];
const boxes = (root, sel) => [...root.querySelectorAll(sel)]
  .map(e => [sel, e.getBoundingClientRect()]).filter(([, r]) => r.width > 0 && r.height > 0);
for (const plot of document.querySelectorAll('.js-plotly-plot')) {
  const bar = plot.querySelector('.modebar');
  if (!bar) continue;
  const m = bar.getBoundingClientRect();
  if (!m.width) continue;
  const id = (plot.closest('[id]') || {}).id;
  for (const [sel, r] of [...boxes(plot, '.legend'), ...boxes(plot, '.g-gtitle text'),
                          ...boxes(plot, '.infolayer .annotation-text'), ...boxes(plot, '.colorbar')]) {
    if (r.left < m.right && m.left < r.right && r.top < m.bottom && m.top < r.bottom) {
      hits.push(id + ' ' + sel);
    }
  }
}
return hits;
"""


def modebar_overlaps(driver) -> list[str]:
    """Charts on the page whose mode bar (shown on hover) would cover a legend, title or colorbar."""
    return driver.execute_script(_MODEBAR_OVERLAPS)


def clipped_labels(driver, css: str) -> list[str]:
    """Axis tick labels of the charts matched by ``css`` that stick out of their chart."""
    return driver.execute_script(
        """
        const out = [];
        for (const plot of document.querySelectorAll(arguments[0] + ' .js-plotly-plot')) {
          const box = plot.querySelector('.main-svg').getBoundingClientRect();
          for (const t of plot.querySelectorAll('.xtick text, .ytick text, .y2tick text')) {
            const r = t.getBoundingClientRect();
            if (r.width && (r.left < box.left - 1 || r.right > box.right + 1)) out.push(t.textContent);
          }
        }
        return out;
        """,
        css,
    )


def load_button(driver, timeout: float = 30):
    """The Data page's "Load this dataset" button, once shown (it appears with the column form)."""

    def shown():
        buttons = driver.find_elements(By.ID, "data-load-button")
        return buttons[0] if buttons and buttons[0].is_displayed() else None

    return wait_until(shown, timeout=timeout)


def truncated_texts(driver, css: str) -> list[str]:
    """Texts of the elements matched by ``css`` that are cut (ellipsis or hidden overflow)."""
    return driver.execute_script(
        """
        return [...document.querySelectorAll(arguments[0])]
          .filter(e => e.offsetWidth && (e.scrollWidth > e.clientWidth + 1
                                         || e.scrollHeight > e.clientHeight + 1))
          .map(e => e.textContent.trim());
        """,
        css,
    )


def legend_overlaps(driver, css: str) -> list[str]:
    """Legends of the charts matched by ``css`` that overlap an axis title or tick label."""
    return driver.execute_script(
        """
        const hits = [];
        for (const plot of document.querySelectorAll(arguments[0] + ' .js-plotly-plot')) {
          const legend = plot.querySelector('.legend');
          if (!legend) continue;
          const l = legend.getBoundingClientRect();
          for (const t of plot.querySelectorAll('.xtitle, .ytitle, .xtick text, .ytick text')) {
            const r = t.getBoundingClientRect();
            if (r.width && r.left < l.right && l.left < r.right && r.top < l.bottom && l.top < r.bottom)
              hits.push(t.textContent);
          }
        }
        return hits;
        """,
        css,
    )
