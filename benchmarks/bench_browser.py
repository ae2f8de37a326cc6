"""What a user feels: click-to-settled and server time per interaction, in a real headless Chromium.

Usage (from the repository root)::

    python benchmarks/bench_browser.py                 # everything, 8 repetitions each
    python benchmarks/bench_browser.py --reps 3 --only k,period
    python benchmarks/bench_browser.py --url http://127.0.0.1:8060   # an already-running server

It starts ``gunicorn -w 2 wsgi:server`` on the bundled data with a fresh, temporary cache on a
free loopback port, and drives Chromium (selenium, ``/usr/bin/chromedriver``) as a user does:
arrow keys on sliders, clicks on dropdown options, dates typed into the date box. Every repetition
asks for a value not asked for before in the run, so nothing is served from the result cache.

For each interaction it prints, median and p95 over the repetitions:

- **click-to-settled**: from the first input event in the page until no Dash callback is loading
  or queued, no ``_dash-update-component`` request is pending and nothing (DOM mutation, long task)
  has happened for 0.5 s; the figure is the last activity, so it includes drawing the charts;
- **server time**: the sum of ``_dash-update-component`` request durations (Resource Timing),
  with the request count and the bytes transferred.

In the same run it serves ``benchmarks/reference_app.py`` (a bare Dash app: one callback doing
K-Means on the 9 log-scaled features + a 3D PCA scatter) with the same ``gunicorn -w 2``, changes
its k the same way, and prints our/reference ratios. Targets are printed with PASS/FAIL.

Interactions (``--only`` names): ``first-kpis`` (Overview KPIs in a fresh browser), ``period``
(Overview start date), ``k``, ``features``, ``algorithm`` (Segments), ``threshold`` (Churn; the
models are trained once first, untimed), ``customer`` (Customer lookup), ``baskets`` (a new minimum
confidence at the default support: the rules are mined again), ``reference`` (the bare app).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (  # noqa: E402
    Sample,
    Series,
    gunicorn,
    log,
    machine,
    new_driver,
    state,
    timed_action,
    wait_settled,
)
from selenium.common.exceptions import (  # noqa: E402
    ElementClickInterceptedException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

INTERACTIONS = (
    "first-kpis",
    "period",
    "k",
    "features",
    "algorithm",
    "threshold",
    "customer",
    "baskets",
    "reference",
)
#: Algorithms whose result depends on k (the density ones ignore it, so k cannot make them new).
K_ALGORITHMS = {
    "kmeans": "K-Means (k-means++)",
    "gmm": "Gaussian mixture (probabilities)",
    "minibatch-kmeans": "MiniBatch K-Means (large data)",
    "agglomerative": "Agglomerative (Ward)",
}
FEATURE_LABELS = {
    "recency_days": "Days since last purchase",
    "frequency": "Orders",
    "monetary": "Net spend (after returns)",
    "avg_order_value": "Average order value",
    "tenure_days": "Days since first purchase",
    "days_between_purchases": "Mean days between orders",
    "distinct_products": "Distinct products bought",
    "return_rate": "Returned share of spend",
    "recent_spend_share": "Share of spend in the last 90 days",
}
SETTLE_TIMEOUT = 600  # training the churn models or mining baskets may take minutes today


# ---------------------------------------------------------------- driving Dash 4 components


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            value = predicate()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what} not met within {timeout} s")


def click(driver, element) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    try:
        element.click()
    except ElementClickInterceptedException:
        driver.execute_script("arguments[0].click()", element)


def thumb(driver, slider_id: str):
    return driver.find_element(By.CSS_SELECTOR, f"#{slider_id} [role=slider]")


def slider_value(driver, slider_id: str) -> float:
    return float(thumb(driver, slider_id).get_attribute("aria-valuenow"))


def press(driver, slider_id: str, *keys) -> None:
    """Keys on a Dash 4 (Radix) slider's thumb, as a keyboard user moves it."""
    element = thumb(driver, slider_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.send_keys(*keys)


def open_dropdown(driver, dropdown_id: str) -> None:
    element = driver.find_element(By.ID, dropdown_id)
    if element.get_attribute("aria-expanded") != "true":
        click(driver, element)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[role=option]"), 10, "options shown")


def option(driver, label: str):
    return wait_for(
        lambda: next(
            (
                o
                for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]")
                if o.text.strip() == label
            ),
            None,
        ),
        10,
        f"option {label!r}",
    )


def close_dropdown(driver) -> None:
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, "[role=listbox]"), 5, "closed")


def goto(driver, url: str) -> None:
    driver.get(url)
    wait_for(lambda: state(driver).get("store"), 60, "Dash renderer loaded")
    wait_settled(driver, timeout=SETTLE_TIMEOUT)


# ---------------------------------------------------------------- interactions


class Bench:
    def __init__(self, url: str, reps: int) -> None:
        self.url = url
        self.reps = reps
        self.driver = None
        #: (features, algorithm, k) already computed in this run: a timed rep must not be one.
        self.seen: set[tuple] = set()
        self.features: tuple[str, ...] | None = None
        self.algorithm = "kmeans"
        self.k = 4

    def _timed(self, series: Series, action, key: tuple | None = None) -> None:
        if key is not None:
            if key in self.seen:
                series.note = "some repetitions repeated a cached value"
            self.seen.add(key)
        sample = timed_action(self.driver, action, timeout=SETTLE_TIMEOUT)
        series.samples.append(sample)
        log(
            f"  {series.name}: settled {sample.settled_s:.2f} s, server {sample.server_s:.2f} s "
            f"in {sample.requests} requests, {sample.kbytes:.0f} kB"
        )

    def _key(self) -> tuple:
        return (self.features, self.algorithm, self.k)

    def first_kpis(self) -> tuple[Series, float]:
        """Navigation start to the first KPI card, each time in a new browser (new profile).

        The first visit after the server started also cleans the dataset (a one-off): it is
        returned apart; the series holds the later fresh-browser visits.
        """
        series = Series("first Overview KPIs, fresh browser")
        cold = None
        for i in range(self.reps + 1):
            driver = new_driver()
            try:
                driver.get(self.url + "/")
                kpis = wait_for(
                    lambda d=driver: state(d).get("kpis"), SETTLE_TIMEOUT, "KPI cards shown"
                )
                # the callback requests that started before the KPIs showed
                entries = [
                    e
                    for e in driver.execute_script("return window.__bench.requests(0)")
                    if e["start"] < kpis
                ]
            finally:
                driver.quit()
            if i == 0:
                cold = kpis / 1000
                log(f"  first visit after server start: KPIs at {cold:.2f} s")
            else:
                sample = Sample(
                    kpis / 1000,
                    sum(e["duration"] for e in entries) / 1000,
                    len(entries),
                    sum(e["bytes"] for e in entries) / 1000,
                )
                series.samples.append(sample)
                log(
                    f"  {series.name}: {sample.settled_s:.2f} s; server {sample.server_s:.2f} s "
                    f"in {sample.requests} requests before it"
                )
        return series, cold

    def period(self) -> Series:
        series = Series("Overview period (new start date)")
        goto(self.driver, self.url + "/")
        box = self.driver.find_element(By.ID, "overview-dates")
        start = dt.datetime.strptime(box.get_attribute("value"), "%d %b %Y").date()
        for i in range(self.reps):
            new_start = start + dt.timedelta(days=7 * (i + 1))
            text = f"{new_start.day} {new_start:%b %Y}"

            def act(text=text):
                element = self.driver.find_element(By.ID, "overview-dates")
                element.send_keys(Keys.CONTROL, "a")
                element.send_keys(text, Keys.ENTER)

            self._timed(series, act)
            shown = self.driver.find_element(By.ID, "overview-dates").get_attribute("value")
            if shown != text:
                raise RuntimeError(f"the start date box shows {shown!r}, not {text!r}")
        return series

    def open_segments(self) -> None:
        goto(self.driver, self.url + "/segments")
        self.k = int(slider_value(self.driver, "segments-k"))
        self.seen.add(self._key())

    def k_change(self) -> Series:
        """One keypress per repetition: right from the default k to 12, then Home (2), right."""
        series = Series("Segments k (new k)")
        self.open_segments()
        for _ in range(self.reps):
            if self.k < 12 and (self.features, self.algorithm, self.k + 1) not in self.seen:
                keys, target = (Keys.ARROW_RIGHT,), self.k + 1
            elif (self.features, self.algorithm, 2) not in self.seen:
                keys, target = (Keys.HOME,), 2
            else:
                keys, target = (Keys.ARROW_RIGHT if self.k < 12 else Keys.ARROW_LEFT,), None
                target = self.k + 1 if self.k < 12 else self.k - 1
            self.k = target
            self._timed(
                series, lambda keys=keys: press(self.driver, "segments-k", *keys), self._key()
            )
            value = slider_value(self.driver, "segments-k")
            if value != target:
                raise RuntimeError(f"k shows {value}, expected {target}")
        return series

    def features_change(self) -> Series:
        """One option click per repetition, in a walk where every feature set is new.

        Set-up (untimed): "Select All". Then remove features one by one down to two, then add them
        back one by one (each set visited once).
        """
        series = Series("Segments features (toggle one)")
        if self.driver.current_url.rstrip("/") != self.url + "/segments":
            self.open_segments()
        open_dropdown(self.driver, "segments-features")
        select_all = next(
            b
            for b in self.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-action-button")
            if b.text.strip() == "Select All"
        )
        click(self.driver, select_all)
        chosen = list(FEATURE_LABELS)
        self.features = tuple(chosen)
        wait_settled(self.driver, timeout=SETTLE_TIMEOUT)
        self.seen.add(self._key())
        names = list(FEATURE_LABELS)
        plan = [("remove", n) for n in names[:-2]] + [("add", n) for n in names[:-2]]
        for i in range(self.reps):
            how, name = plan[i % len(plan)]
            if how == "remove":
                chosen.remove(name)
            else:
                chosen.insert(0, name)
            self.features = tuple(sorted(chosen))
            open_dropdown(self.driver, "segments-features")
            wait_settled(self.driver, timeout=SETTLE_TIMEOUT)
            target = option(self.driver, FEATURE_LABELS[name])
            self._timed(series, lambda t=target: click(self.driver, t), self._key())
            close_dropdown(self.driver)
            selected = {
                o.text.strip()
                for o in self.driver.find_elements(By.CSS_SELECTOR, "#segments-features-value *")
            }
            if FEATURE_LABELS[name] in selected and how == "remove":
                raise RuntimeError(f"{name} is still selected after removing it")
        return series

    def algorithm_change(self) -> Series:
        """Per repetition: (timed) the next algorithm chosen from the dropdown. When that
        (features, algorithm, k) was computed already, k first moves (untimed, one key: a
        neighbour, Home or End) to a k where it was not."""
        series = Series("Segments algorithm (new algorithm)")
        if self.driver.current_url.rstrip("/") != self.url + "/segments":
            self.open_segments()
        cycle = list(K_ALGORITHMS)
        moves = {-1: Keys.ARROW_LEFT, 1: Keys.ARROW_RIGHT}
        for _ in range(self.reps):
            target = cycle[(cycle.index(self.algorithm) + 1) % len(cycle)]
            k = next(
                (
                    k
                    for k in (self.k, self.k - 1, self.k + 1, 2, 12)
                    if 2 <= k <= 12 and (self.features, target, k) not in self.seen
                ),
                self.k,
            )
            if k != self.k:
                key = moves.get(k - self.k, Keys.HOME if k == 2 else Keys.END)
                press(self.driver, "segments-k", key)
                wait_for(lambda k=k: slider_value(self.driver, "segments-k") == k, 10, "k moved")
                wait_settled(self.driver, timeout=SETTLE_TIMEOUT)
                self.k = k
                self.seen.add(self._key())
            open_dropdown(self.driver, "segments-algorithm")
            wait_settled(self.driver, timeout=SETTLE_TIMEOUT)
            element = option(self.driver, K_ALGORITHMS[target])
            self.algorithm = target
            self._timed(series, lambda e=element: click(self.driver, e), self._key())
            shown = self.driver.find_element(By.ID, "segments-algorithm-value").text.strip()
            if shown != K_ALGORITHMS[target]:
                raise RuntimeError(f"the algorithm shows {shown!r}, not {K_ALGORITHMS[target]!r}")
        return series

    def threshold(self) -> Series:
        series = Series("Churn at-risk threshold")
        log("  training the churn models (untimed; the page starts it)…")
        started = time.time()
        goto(self.driver, self.url + "/churn")
        wait_for(
            lambda: self.driver.find_elements(By.ID, "churn-share"),
            SETTLE_TIMEOUT,
            "churn results shown",
        )
        wait_settled(self.driver, timeout=SETTLE_TIMEOUT)
        log(f"  trained in {time.time() - started:.0f} s")
        for _ in range(self.reps):
            value = slider_value(self.driver, "churn-threshold")
            key = Keys.ARROW_RIGHT if value < 0.9 - 1e-9 else Keys.HOME
            self._timed(series, lambda key=key: press(self.driver, "churn-threshold", key))
        return series

    def customer(self) -> Series:
        """Per repetition: (untimed) type an id prefix in the search box; (timed) click an id."""
        series = Series("Customer lookup (choose an id)")
        series.note = "settled = profile and Alive card drawn, explanation job started"
        goto(self.driver, self.url + "/customer")
        # The explanations (LIME) are a background job with a progress bar: the lookup has
        # answered once the profile and the Alive card are drawn and the job shows its progress.
        self.driver.execute_script(
            "window.__bench.ignore = {outputs: ['customer-explain-token.data', "
            "'customer-explanations.children'], within: ['#customer-explain-status', "
            "'#customer-explanations', '#customer-explain-alert']}"
        )
        used: set[str] = set()
        for i in range(self.reps):
            open_dropdown_search = self.driver.find_element(By.ID, "customer-search")
            click(self.driver, open_dropdown_search)
            box = wait_for(
                lambda: self.driver.find_elements(By.CSS_SELECTOR, "input.dash-dropdown-search"),
                10,
                "search box",
            )[0]
            box.send_keys(Keys.CONTROL, "a")
            box.send_keys(f"1{3 + i % 6}{i // 6}")
            wait_settled(self.driver, timeout=SETTLE_TIMEOUT)
            candidates = [
                o
                for o in self.driver.find_elements(By.CSS_SELECTOR, "[role=option]")
                if o.text.strip() and o.text.strip() not in used
            ]
            if not candidates:
                raise RuntimeError(f"no customer id offered for {f'1{3 + i % 6}{i // 6}'!r}")
            target = candidates[0]
            used.add(target.text.strip())
            self._timed(series, lambda t=target: click(self.driver, t))
            wait_for(
                lambda: self.driver.find_element(By.ID, "customer-profile").text.strip(),
                10,
                "a profile shown",
            )
        return series

    def baskets(self) -> tuple[Series, float]:
        """A new minimum confidence per repetition at the default support (rules mined again).

        Opening the page mines the default rules (untimed here; returned apart).
        """
        series = Series("Baskets, default support (new confidence)")
        started = time.time()
        goto(self.driver, self.url + "/baskets")
        wait_for(
            lambda: self.driver.find_elements(By.ID, "baskets-summary-badges"),
            SETTLE_TIMEOUT,
            "rules shown",
        )
        wait_settled(self.driver, timeout=SETTLE_TIMEOUT)
        opened = time.time() - started
        log(f"  page open with default rules: {opened:.1f} s (wall clock, includes page load)")
        support = slider_value(self.driver, "baskets-support")
        for _ in range(self.reps):
            value = slider_value(self.driver, "baskets-confidence")
            key = Keys.ARROW_RIGHT if value < 1.0 - 1e-9 else Keys.HOME
            self._timed(series, lambda key=key: press(self.driver, "baskets-confidence", key))
        if slider_value(self.driver, "baskets-support") != support:
            raise RuntimeError("the support moved during the baskets benchmark")
        series.note = f"support {support:.1%}"
        return series, opened


def reference(url: str, reps: int) -> Series:
    series = Series("reference app k (new k)")
    driver = new_driver()
    try:
        goto(driver, url + "/")
        k = int(slider_value(driver, "ref-k"))
        for _ in range(reps):
            key = Keys.ARROW_RIGHT if k < 10 else Keys.HOME
            k = k + 1 if k < 10 else 2
            sample = timed_action(driver, lambda key=key: press(driver, "ref-k", key))
            if slider_value(driver, "ref-k") != k:
                raise RuntimeError(f"reference k shows {slider_value(driver, 'ref-k')}, not {k}")
            legend = len(driver.find_elements(By.CSS_SELECTOR, "#ref-pca .legendtext"))
            if legend != k:
                raise RuntimeError(f"the reference scatter shows {legend} segments, not {k}")
            series.samples.append(sample)
            log(
                f"  {series.name}: settled {sample.settled_s:.2f} s, server {sample.server_s:.2f} s "
                f"in {sample.requests} requests, {sample.kbytes:.0f} kB"
            )
    finally:
        driver.quit()
    return series


# ---------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: dict, failures: dict, extras: dict) -> None:
    print()
    print("Segmenta in headless Chromium, gunicorn -w 2, bundled data, fresh cache")
    print(f"machine at the end: {machine()}; at the start: {extras.get('machine-start', '?')}")
    print(
        "settled = click to page settled; server = sum of _dash-update-component durations "
        "(background jobs: their polls); targets on the median"
    )
    print(
        f"{'interaction':44} {'n':>3} {'settled med':>11} {'p95':>7} {'server med':>10} "
        f"{'p95':>7} {'req':>4} {'kB':>6}  target"
    )
    targets = {
        "period": 1.5,
        "features": 1.5,
        "algorithm": 1.5,
        "threshold": 1.5,
        "customer": 1.5,
        "baskets": 3.0,
        "first-kpis": 2.0,
    }
    for name, series in results.items():
        if not series.samples:
            continue
        settled_med, settled_p95 = series.median("settled_s"), series.p95("settled_s")
        server = (
            f"{series.median('server_s'):10.2f} {series.p95('server_s'):7.2f} "
            f"{series.median('requests'):4.0f} {series.median('kbytes'):6.0f}"
        )
        target = "ratio below" if name in ("k", "reference") else ""
        if name in targets:
            target = f"< {targets[name]:.1f} s: {verdict(settled_med < targets[name])}"
        print(
            f"{series.name:44} {len(series.samples):3d} {settled_med:11.2f} {settled_p95:7.2f} {server}  {target}"
        )
        if series.note:
            print(f"{'':46}({series.note})")
    if "first-kpis-cold" in extras:
        print(
            f"  first visit after the server started (cleans the dataset once): KPIs at {extras['first-kpis-cold']:.2f} s"
        )
    if "baskets-open" in extras:
        print(
            f"  Baskets page opened, default rules mined: {extras['baskets-open']:.1f} s wall clock"
        )
    ours, ref = results.get("k"), results.get("reference")
    if ours and ours.samples and not (ref and ref.samples):
        print("Recluster ratio targets: not measured (run the reference too: --only k,reference)")
    if ours and ref and ours.samples and ref.samples:
        settled_ratio = ours.median("settled_s") / ref.median("settled_s")
        server_ratio = ours.median("server_s") / ref.median("server_s")
        print()
        print("Recluster (k change) against the bare reference app, medians:")
        print(
            f"  click-to-settled {ours.median('settled_s'):.2f} s / {ref.median('settled_s'):.2f} s "
            f"= {settled_ratio:.2f}x   target <= 1.5x: {verdict(settled_ratio <= 1.5)}"
        )
        print(
            f"  server time      {ours.median('server_s'):.2f} s / {ref.median('server_s'):.2f} s "
            f"= {server_ratio:.2f}x   target <= 2x:   {verdict(server_ratio <= 2.0)}"
        )
    for name, error in failures.items():
        print(f"{name}: FAIL (could not be measured: {error})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=8, help="repetitions per interaction (8)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(INTERACTIONS)}"
    )
    parser.add_argument("--url", help="measure an already-running Segmenta instead of starting one")
    parser.add_argument("--ref-url", help="an already-running reference app")
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()] or list(INTERACTIONS)
    unknown = sorted(set(only) - set(INTERACTIONS))
    if unknown:
        parser.error(
            f"unknown interaction(s) {', '.join(unknown)}; choose from {', '.join(INTERACTIONS)}"
        )
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    results: dict[str, Series] = {}
    failures: dict[str, str] = {}
    extras: dict = {"machine-start": machine()}

    def run(name: str, fn) -> None:
        if name not in only:
            return
        log(f"{name}…")
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - report and go on with the other interactions
            traceback.print_exc()
            failures[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            return
        if isinstance(out, tuple):
            out, extra = out
            extras[f"{name}-open" if name == "baskets" else f"{name}-cold"] = extra
        results[name] = out

    def ours(url: str) -> None:
        bench = Bench(url, args.reps)
        run("first-kpis", bench.first_kpis)
        if not set(only) & (set(INTERACTIONS) - {"first-kpis", "reference"}):
            return
        bench.driver = new_driver()
        try:
            run("period", bench.period)
            run("k", bench.k_change)
            run("features", bench.features_change)
            run("algorithm", bench.algorithm_change)
            run("threshold", bench.threshold)
            run("customer", bench.customer)
            run("baskets", bench.baskets)
        finally:
            bench.driver.quit()

    if args.url:
        ours(args.url.rstrip("/"))
    elif set(only) - {"reference"}:
        with gunicorn("wsgi:server", label="segmenta") as url:
            ours(url)
    if "reference" in only:
        if args.ref_url:
            run("reference", lambda: reference(args.ref_url.rstrip("/"), args.reps))
        else:
            with gunicorn("benchmarks.reference_app:server", label="reference") as url:
                run("reference", lambda: reference(url, args.reps))
    report(results, failures, extras)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
