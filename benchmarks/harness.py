"""Shared plumbing for the user-end benchmarks: a real gunicorn, a real headless Chromium.

``bench_browser.py`` and ``bench_load.py`` use it. Nothing here measures by itself.

The page is instrumented by a script injected before any page script runs (Chrome DevTools
``Page.addScriptToEvaluateOnNewDocument``): it wraps ``window.fetch`` to count pending
``_dash-update-component`` requests (and optionally record their bodies), and notes the last moment
anything happened (a request starting or ending, a DOM mutation, a long task on the main thread,
a Dash callback still loading). A page is *settled* when no request is pending, Dash's store says
nothing is loading and no callback is queued, and nothing has happened for ``QUIET_MS``; the
settled instant is that last activity.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("SEGMENTA_BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SEGMENTA_BENCH_CHROMEDRIVER", "/usr/bin/chromedriver")
#: Nothing may happen in the page for this long before it counts as settled.
QUIET_MS = 500
GUNICORN_TIMEOUT = 180  # as in the README's deployment command

INSTRUMENT = r"""
(function () {
  if (window.__bench) return;
  const B = window.__bench = {
    pending: 0, last: performance.now(), armed: false, t0: null, recording: false, log: [],
    kpis: null,
    // Outputs of background jobs, and the progress blocks they update, that do not count as
    // activity (the bench sets them for an interaction whose job runs on with its progress shown)
    ignore: {outputs: [], within: []},
  };
  const touch = () => { B.last = performance.now(); };
  const nativeFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : (input && input.url) || String(input);
    if (url.indexOf('_dash-update-component') < 0) return nativeFetch.apply(this, arguments);
    const body = init && typeof init.body === 'string' ? init.body : '';
    // a background job's polls (and its start) run on after the page has answered: see B.ignore
    if (B.ignore.outputs.some((o) => body.indexOf('"output":"' + o + '"') >= 0)) {
      return nativeFetch.apply(this, arguments);
    }
    B.pending += 1; touch();
    const entry = {url: url, body: body || null,
                   start: performance.now(), end: null, status: null};
    if (B.recording) B.log.push(entry);
    return nativeFetch.apply(this, arguments).then(
      (response) => { B.pending -= 1; entry.status = response.status;
                      entry.end = performance.now(); touch(); return response; },
      (error) => { B.pending -= 1; entry.error = String(error);
                   entry.end = performance.now(); touch(); throw error; });
  };
  const ignored = (node) => {
    const el = node && (node.nodeType === 1 ? node : node.parentElement);
    return !!el && B.ignore.within.some((sel) => el.closest(sel));
  };
  const onMutation = (records) => {
    if (B.ignore.within.length && records.every((r) => ignored(r.target))) return;
    touch();
    if (B.kpis === null) {
      const kpis = document.getElementById('overview-kpis');
      if (kpis && (kpis.querySelector('.kpi-card') || kpis.textContent.trim())) B.kpis = B.last;
    }
  };
  const observe = () => new MutationObserver(onMutation).observe(
    document.documentElement, {subtree: true, childList: true, attributes: true, characterData: true});
  if (document.documentElement) observe(); else document.addEventListener('DOMContentLoaded', observe);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.last = Math.max(B.last, e.startTime + e.duration);
    }).observe({type: 'longtask'});
  } catch (e) { /* long tasks unsupported: mutations and requests still count */ }
  performance.setResourceTimingBufferSize(100000);
  for (const type of ['pointerdown', 'mousedown', 'keydown', 'click', 'input', 'change']) {
    document.addEventListener(type, () => {
      if (B.armed && B.t0 === null) { B.t0 = performance.now(); touch(); }
    }, true);
  }
  B.busy = function () {
    let loading = false, queued = 0;
    const store = window.store;
    if (store) {
      const state = store.getState();
      // Dash's global flag stays up while a background job polls: with jobs ignored, the
      // requests and queued callbacks counted here decide
      loading = !!state.isLoading && !B.ignore.outputs.length;
      const cbs = Object.assign({}, state.callbacks || {});
      delete cbs.stored; delete cbs.completed;
      for (const k in cbs) {
        if (!Array.isArray(cbs[k])) continue;
        queued += cbs[k].filter((cb) => {
          const out = cb && cb.callback && cb.callback.output;
          return !(out && B.ignore.outputs.some((o) => out.indexOf(o) >= 0));
        }).length;
      }
    }
    const busy = B.pending > 0 || loading || queued > 0;
    const now = performance.now();
    if (busy) B.last = now;
    return {busy: busy, pending: B.pending, loading: loading, queued: queued, now: now,
            last: B.last, t0: B.t0, kpis: B.kpis, store: !!store};
  };
  B.arm = function () {
    B.armed = true; B.t0 = null; performance.clearResourceTimings();
  };
  B.requests = function (since) {
    return performance.getEntriesByType('resource')
      .filter((e) => e.name.indexOf('_dash-update-component') >= 0 && e.startTime >= since - 1)
      .map((e) => ({start: e.startTime, duration: e.duration, bytes: e.transferSize,
                    body: e.encodedBodySize}));
  };
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    """CPU count and load averages: figures from a busy machine are not the quiet-machine ones."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min), {five:.1f} (5 min)"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def gunicorn(app: str, *, workers: int = 2, label: str = "app", cache_dir: str | None = None):
    """Serve ``app`` (``module:server``) with ``gunicorn -w workers`` on a free loopback port.

    A fresh, temporary ``SEGMENTA_CACHE_DIR`` is used unless ``cache_dir`` is given; it is removed
    afterwards. Yields the base URL once the server answers ``/``.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"segmenta-bench-{label}-") as tmp:
        env = dict(os.environ)
        env["SEGMENTA_CACHE_DIR"] = cache_dir or str(Path(tmp) / "cache")
        env.setdefault("SEGMENTA_LOG_LEVEL", "WARNING")
        logfile = open(Path(tmp) / "gunicorn.log", "w+b")  # noqa: SIM115 - closed below
        gunicorn_bin = Path(sys.executable).with_name("gunicorn")
        proc = subprocess.Popen(
            [
                str(gunicorn_bin),
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                str(GUNICORN_TIMEOUT),
                app,
            ],
            cwd=REPO,
            env=env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 180
            while True:
                if proc.poll() is not None:
                    logfile.seek(0)
                    raise RuntimeError(
                        f"gunicorn {app} exited:\n{logfile.read().decode(errors='replace')[-3000:]}"
                    )
                try:
                    with urllib.request.urlopen(url + "/", timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError(f"gunicorn {app} did not answer within 180 s")
                time.sleep(0.5)
            log(
                f"{label}: gunicorn -w {workers} {app} at {url} (cache {env['SEGMENTA_CACHE_DIR']})"
            )
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            logfile.seek(0)
            errors = [
                line
                for line in logfile.read().decode(errors="replace").splitlines()
                if "Traceback" in line or "ERROR" in line or "WORKER TIMEOUT" in line
            ]
            logfile.close()
            if errors:
                log(f"{label}: server log had {len(errors)} error line(s), e.g. {errors[0]}")


def new_driver(width: int = 1400, height: int = 1000):
    """A fresh headless Chromium (new profile) with the instrumentation injected on every page."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=ChromeService(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INSTRUMENT})
    return driver


def state(driver) -> dict:
    return driver.execute_script("return window.__bench ? window.__bench.busy() : null") or {}


def wait_settled(driver, timeout: float = 120, since: float | None = None) -> float:
    """Wait until the page is settled; return the settled instant (page clock, ms).

    ``since`` (page clock) makes sure activity that started before it is not mistaken for quiet.
    """
    end = time.time() + timeout
    while time.time() < end:
        s = state(driver)
        if s.get("store") and not s["busy"] and s["now"] - s["last"] >= QUIET_MS:
            if since is None or s["last"] >= since:
                return s["last"]
        time.sleep(0.1)
    raise TimeoutError(f"the page did not settle within {timeout:.0f} s: {state(driver)}")


@dataclass
class Sample:
    """One timed interaction."""

    settled_s: float
    server_s: float
    requests: int
    kbytes: float


def timed_action(driver, action, timeout: float = 180) -> Sample:
    """Arm the page, run ``action`` (a real user input), wait until settled, measure.

    Click-to-settled runs from the first input event the page receives (pointer, key, click,
    input or change) to the last activity before the page went quiet. Server time is the sum of
    the ``_dash-update-component`` request durations started since then (Resource Timing).
    """
    wait_settled(driver, timeout=timeout)
    driver.execute_script("window.__bench.arm()")
    action()
    deadline = time.time() + 10
    while state(driver).get("t0") is None:
        if time.time() > deadline:
            raise RuntimeError("the action produced no input event in the page")
        time.sleep(0.02)
    t0 = state(driver)["t0"]
    settled = wait_settled(driver, timeout=timeout, since=t0)
    driver.execute_script("window.__bench.armed = false")
    entries = driver.execute_script("return window.__bench.requests(arguments[0])", t0)
    return Sample(
        settled_s=(settled - t0) / 1000,
        server_s=sum(e["duration"] for e in entries) / 1000,
        requests=len(entries),
        kbytes=sum(e["bytes"] for e in entries) / 1000,
    )


@dataclass
class Series:
    name: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    def values(self, attr: str) -> list[float]:
        return [getattr(s, attr) for s in self.samples]

    def median(self, attr: str) -> float:
        return statistics.median(self.values(attr))

    def p95(self, attr: str) -> float:
        return percentile(self.values(attr), 95)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with few samples, p95 is the maximum: honest, not flattering)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def post_json(url: str, body: bytes, timeout: float = 300) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def dumps(obj) -> bytes:
    return json.dumps(obj).encode()
