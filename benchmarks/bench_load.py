"""20 analysts at once over HTTP: p50/p95 per ``_dash-update-component`` request, and errors.

Usage (from the repository root)::

    python benchmarks/bench_load.py                         # 20 analysts, 1 round each
    python benchmarks/bench_load.py --analysts 5 --rounds 2 --think 3
    python benchmarks/bench_load.py --save-flows /tmp/flows.json     # keep what was recorded

1. **Record.** A headless Chromium opens the Segments page of a Segmenta served by
   ``gunicorn -w 2`` (fresh temporary cache), changes k once with the keyboard, then opens the
   Overview and types a new start date. An injected ``window.fetch`` hook records every
   ``_dash-update-component`` request the browser sends for these two interactions (the recluster
   and the page's follow-up callbacks; the period change), with when each started and ended.
   The load therefore follows the app's callbacks as they change: nothing is hard-coded but the
   control ids (``segments-k``, ``segments-features``, ``overview-dates``).
2. **Replay.** A second gunicorn with a new empty cache serves the load. After an untimed warm-up
   (the recorded requests once: the dataset is read and cleaned, its features computed), each
   simulated analyst waits a random 0..think s, then per round: a recluster with a k/feature
   combination nobody asked for before, a think time, a period change with a start date nobody
   asked for before, a think time. Within an interaction a request is sent once the requests that
   had finished before it in the browser have finished in the replay; inputs and states that an
   earlier response of the same interaction produced take that response's value (so the box plot
   asks for the segmentation the recluster returned). Background callbacks are polled every
   ``--poll`` seconds as Dash does, and every poll counts as a request.

Errors: an HTTP status >= 400, a failed connection or timeout, or a response that opens an alert
(``sideUpdate`` of an ``*alert*`` component with ``is_open``). Target: p95 < 1.5 s, 0 errors.
Loopback only; bounded by ``--analysts``, ``--rounds`` and ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import itertools
import json
import random
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (
    gunicorn,
    log,
    machine,
    new_driver,
    percentile,
    post_json,
    wait_settled,
)  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
    "days_between_purchases",
    "distinct_products",
    "return_rate",
    "recent_spend_share",
)
TARGET_P95 = 1.5

# ---------------------------------------------------------------- record


def _recorded(driver) -> list[dict]:
    entries = driver.execute_script(
        "const l = window.__bench.log; window.__bench.log = []; window.__bench.recording = false;"
        "return l;"
    )
    return [
        {
            "path": urlsplit(e["url"]).path,
            "query": urlsplit(e["url"]).query,
            "body": json.loads(e["body"]) if e["body"] else None,
            "start": e["start"],
            "end": e["end"],
        }
        for e in entries
    ]


def record(url: str) -> dict[str, list[dict]]:
    """The requests a real browser sends for a recluster and for an Overview period change."""
    driver = new_driver()
    try:
        driver.get(url + "/segments")
        wait_settled(driver, timeout=600)
        driver.execute_script("window.__bench.log = []; window.__bench.recording = true;")
        thumb = driver.find_element(By.CSS_SELECTOR, "#segments-k [role=slider]")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", thumb)
        thumb.send_keys(Keys.ARROW_RIGHT)
        time.sleep(0.2)
        wait_settled(driver, timeout=600)
        recluster = _recorded(driver)

        driver.get(url + "/")
        wait_settled(driver, timeout=600)
        box = driver.find_element(By.ID, "overview-dates")
        start = dt.datetime.strptime(box.get_attribute("value"), "%d %b %Y").date()
        new = start + dt.timedelta(days=7)
        driver.execute_script("window.__bench.log = []; window.__bench.recording = true;")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(f"{new.day} {new:%b %Y}", Keys.ENTER)
        time.sleep(0.2)
        wait_settled(driver, timeout=600)
        period = _recorded(driver)
    finally:
        driver.quit()
    for name, flow in (("recluster", recluster), ("period", period)):
        if not flow:
            raise RuntimeError(f"the browser sent no request for the {name} interaction")
    return {"recluster": recluster, "period": period}


# ---------------------------------------------------------------- replay


def _walk(items, fn) -> None:
    """Apply ``fn`` to every {id, property, value} item (pattern-matching inputs are lists)."""
    for item in items or []:
        if isinstance(item, list):
            _walk(item, fn)
        elif isinstance(item, dict) and "property" in item:
            fn(item)


def _key(item: dict) -> tuple[str, str]:
    ident = item["id"]
    return (
        json.dumps(ident, sort_keys=True) if isinstance(ident, dict) else ident,
        item["property"],
    )


def _outputs(response: dict) -> dict[tuple[str, str], object]:
    values = {}
    for ident, props in (response.get("response") or {}).items():
        for prop, value in props.items():
            values[(ident, prop)] = value
    for ident, props in (response.get("sideUpdate") or {}).items():
        for prop, value in props.items():
            values[(ident, prop)] = value
    return values


def _label(output: str) -> str:
    """``..a.data...b.figure..`` (a multi-output callback) -> ``a.data +1 output``."""
    outputs = [o.split("@")[0] for o in output.strip(".").split("...") if o]
    if not outputs:
        return "?"
    more = len(outputs) - 1
    return outputs[0] + (f" +{more} output{'s' if more > 1 else ''}" if more else "")


def _alert(response: dict) -> str | None:
    for ident, props in (response.get("sideUpdate") or {}).items():
        if "alert" in ident and isinstance(props, dict) and props.get("is_open"):
            return str(props.get("children"))[:200]
    return None


@dataclass
class Result:
    flow: str
    callback: str
    seconds: float
    status: int
    error: str | None = None


class Replayer:
    def __init__(self, url: str, flows: dict[str, list[dict]], poll: float, results: list) -> None:
        self.url = url
        self.flows = flows
        self.poll = poll
        self.results = results
        self.lock = threading.Lock()

    def _post(self, flow: str, name: str, path: str, query: str, body: dict) -> dict | None:
        target = self.url + path + (f"?{query}" if query else "")
        started = time.perf_counter()
        error = None
        try:
            status, raw = post_json(target, json.dumps(body).encode())
        except Exception as exc:  # noqa: BLE001 - a failed request is a measured error
            status, raw, error = 0, b"", f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        payload = None
        if error is None and status >= 400:
            error = f"HTTP {status}: {raw[:200].decode(errors='replace')}"
        elif error is None and status == 200 and raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                error = f"not JSON: {raw[:120]!r}"
            else:
                alert = _alert(payload)
                if alert:
                    error = f"alert: {alert}"
        with self.lock:
            self.results.append(Result(flow, name, seconds, status, error))
        return payload

    def _request(self, flow: str, entry: dict, overrides: dict, live: dict) -> None:
        body = copy.deepcopy(entry["body"])

        def substitute(item: dict) -> None:
            key = _key(item)
            if key in overrides:
                item["value"] = overrides[key]
            elif key in live:
                item["value"] = live[key]

        _walk(body.get("inputs"), substitute)
        _walk(body.get("state"), substitute)
        name = _label(str(body.get("output", "?")))
        payload = self._post(flow, name, entry["path"], "", body)
        if payload is not None and "cacheKey" in payload and "response" not in payload:
            # a background callback: poll with the signed handles, as the renderer does
            handles = f"cacheKey={payload['cacheKey']}&job={payload['job']}"
            deadline = time.time() + 600
            while True:
                time.sleep(self.poll)
                payload = self._post(flow, name + " (poll)", entry["path"], handles, body)
                if payload is None or "response" in payload:
                    break
                if time.time() > deadline:
                    with self.lock:
                        self.results.append(Result(flow, name, 600.0, 0, "job unfinished in 600 s"))
                    break
        if payload is not None:
            live.update(_outputs(payload))

    def interaction(self, flow: str, overrides: dict) -> float:
        """Replay one recorded interaction; returns its wall-clock seconds."""
        entries = [e for e in self.flows[flow] if "cacheKey=" not in e["query"]]
        live: dict = {}
        done = [threading.Event() for _ in entries]
        started = time.perf_counter()

        def run(i: int) -> None:
            entry = entries[i]
            for j in range(i):
                if entries[j]["end"] is not None and entries[j]["end"] <= entry["start"]:
                    done[j].wait()
            try:
                self._request(flow, entry, overrides, live)
            except Exception:  # noqa: BLE001 - counted, never silent
                with self.lock:
                    self.results.append(Result(flow, "?", 0.0, 0, traceback.format_exc(limit=1)))
            finally:
                done[i].set()

        threads = [
            threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(entries))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started


# ---------------------------------------------------------------- fresh values


def _recorded_value(flows: dict, key: tuple[str, str]):
    found = []
    for flow in flows.values():
        for entry in flow:
            _walk(
                (entry["body"] or {}).get("inputs"),
                lambda item: found.append(item["value"]) if _key(item) == key else None,
            )
    return found[0] if found else None


def fresh_values(flows: dict, count: int) -> tuple[list[dict], list[dict]]:
    """``count`` recluster and period overrides, all different from each other and the recording."""
    k_key, f_key = ("segments-k", "value"), ("segments-features", "value")
    recorded_k = _recorded_value(flows, k_key)
    recorded_features = _recorded_value(flows, f_key)
    feature_sets = [recorded_features, list(FEATURES)] + [
        [f for f in FEATURES if f != left_out] for left_out in FEATURES
    ]
    combos = [
        {k_key: k, f_key: features}
        for features, k in itertools.product(feature_sets, range(2, 13))
        if not (k == recorded_k and features == recorded_features)
    ]
    if count > len(combos):
        raise SystemExit(f"at most {len(combos)} distinct reclusters; lower --analysts/--rounds")
    start_key = ("overview-dates", "start_date")
    start = _recorded_value(flows, start_key)
    if start is None:
        raise RuntimeError("the recorded period change carries no overview-dates start_date")
    day = dt.date.fromisoformat(start[:10])
    # days after the recorded start (itself a week after the default), never the recorded one
    periods = [
        {start_key: (day + dt.timedelta(days=i)).isoformat() + start[10:]}
        for i in range(1, count + 1)
    ]
    return combos[:count], periods


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--analysts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="interaction pairs per analyst (1)")
    parser.add_argument("--think", type=float, default=3.0, help="think time, seconds (3)")
    parser.add_argument(
        "--poll", type=float, default=1.0, help="background-job poll interval (1 s)"
    )
    parser.add_argument("--max-seconds", type=float, default=900, help="stop waiting after this")
    parser.add_argument("--record-url", help="record against this running server")
    parser.add_argument("--url", help="load this running server (its cache may not be fresh)")
    parser.add_argument("--save-flows", help="write the recorded requests to this JSON file")
    parser.add_argument("--flows", help="replay requests saved by --save-flows (no browser)")
    args = parser.parse_args(argv)
    if args.analysts < 1 or args.rounds < 1:
        parser.error("--analysts and --rounds must be at least 1")

    if args.flows:
        flows = json.loads(Path(args.flows).read_text())
    elif args.record_url:
        flows = record(args.record_url.rstrip("/"))
    else:
        with gunicorn("wsgi:server", label="record") as url:
            log("recording a recluster and a period change in Chromium…")
            flows = record(url)
    if args.save_flows:
        Path(args.save_flows).write_text(json.dumps(flows, indent=1))
    for name, flow in flows.items():
        polls = sum("cacheKey=" in e["query"] for e in flow)
        outputs = [
            _label(str((e["body"] or {}).get("output", "?")))
            for e in flow
            if "cacheKey=" not in e["query"]
        ]
        log(f"recorded {name}: {len(outputs)} callback request(s) + {polls} poll(s): {outputs}")

    total = args.analysts * args.rounds
    reclusters, periods = fresh_values(flows, total)

    def load(url: str) -> list[Result]:
        results: list[Result] = []
        replayer = Replayer(url, flows, args.poll, results)
        log("warm-up (untimed): the recorded requests once; the dataset is cleaned and featurised")
        replayer.interaction("period", {})
        replayer.interaction("recluster", {})
        results.clear()
        interactions: list[tuple[str, float]] = []
        stop_at = time.time() + args.max_seconds
        rng = random.Random(8)

        def analyst(i: int) -> None:
            time.sleep(rng.uniform(0, args.think))
            for r in range(args.rounds):
                if time.time() > stop_at:
                    return
                n = i * args.rounds + r
                interactions.append(("recluster", replayer.interaction("recluster", reclusters[n])))
                time.sleep(args.think)
                interactions.append(("period", replayer.interaction("period", periods[n])))
                time.sleep(args.think)

        log(f"{args.analysts} analysts × {args.rounds} round(s), think {args.think:g} s…")
        started = time.time()
        threads = [
            threading.Thread(target=analyst, args=(i,), daemon=True) for i in range(args.analysts)
        ]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive() and time.time() < stop_at:
                t.join(timeout=30)
                if t.is_alive():
                    errors = sum(1 for r in results if r.error)
                    log(f"  {len(results)} requests answered so far, {errors} errors")
        wall = time.time() - started
        unfinished = sum(t.is_alive() for t in threads)
        report(results, interactions, wall, unfinished, args)
        return results

    if args.url:
        results = load(args.url.rstrip("/"))
    else:
        with gunicorn("wsgi:server", label="load") as url:
            results = load(url)
    return 0 if results and not any(r.error for r in results) else 1


def report(results: list[Result], interactions, wall: float, unfinished: int, args) -> None:
    seconds = [r.seconds for r in results]
    errors = [r for r in results if r.error]
    print()
    print(
        f"{args.analysts} simulated analysts, gunicorn -w 2, fresh cache, think time "
        f"{args.think:g} s, {args.rounds} round(s) of recluster + period change; {wall:.0f} s wall"
    )
    print(f"machine at the end: {machine()}")
    print(f"{'callback request':62} {'n':>4} {'p50':>7} {'p95':>7} {'max':>7}  errors")
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.flow, r.callback), []).append(r)
    for (flow, name), rs in sorted(groups.items()):
        values = [r.seconds for r in rs]
        label = f"{flow}: {name}"[:62]
        print(
            f"{label:62} {len(rs):4d} {percentile(values, 50):7.2f} {percentile(values, 95):7.2f} "
            f"{max(values):7.2f}  {sum(1 for r in rs if r.error)}"
        )
    for flow in ("recluster", "period"):
        values = [s for f, s in interactions if f == flow]
        if values:
            print(
                f"{'whole ' + flow + ' interaction (all its requests)':62} {len(values):4d} "
                f"{percentile(values, 50):7.2f} {percentile(values, 95):7.2f} {max(values):7.2f}"
            )
    if not seconds:
        print("no request was measured: FAIL")
        return
    p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
    ok = p95 < TARGET_P95 and not errors and not unfinished
    print(
        f"ALL requests: n={len(seconds)}  p50 {p50:.2f} s  p95 {p95:.2f} s  errors {len(errors)}"
        f"{f'  unfinished analysts {unfinished}' if unfinished else ''}"
    )
    print(f"target p95 < {TARGET_P95} s with 0 errors: {'PASS' if ok else 'FAIL'}")
    for r in errors[:5]:
        print(f"  error in {r.flow}: {r.callback}: {r.error}")


if __name__ == "__main__":
    sys.exit(main())
