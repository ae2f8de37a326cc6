"""The load benchmark's replay logic on hand-made recordings (no server, no browser)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_load  # noqa: E402
from harness import percentile  # noqa: E402


def _entry(output, inputs, start, end, state=(), query=""):
    body = {"output": output, "inputs": list(inputs), "state": list(state), "changedPropIds": []}
    return {
        "path": "/_dash-update-component",
        "query": query,
        "body": body,
        "start": start,
        "end": end,
    }


def _item(ident, prop, value):
    return {"id": ident, "property": prop, "value": value}


RECLUSTER = [
    _entry("..current.data...figure.figure..", [_item("segments-k", "value", 5)], 0, 100),
    # the follow-up started after the first had ended: it reads what the first returned
    _entry("box.figure", [_item("current", "data", {"k": 5})], 101, 150),
]


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 95, 4), ([5], 95, 5), (list(range(1, 21)), 95, 19)],
)
def test_percentile_is_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


@pytest.mark.parametrize(
    ("output", "label"),
    [
        ("box.figure", "box.figure"),
        ("..a.data...b.figure..", "a.data +1 output"),
        ("..a.value@9f2...b.value@9f2...c.data..", "a.value +2 outputs"),
    ],
)
def test_label_names_the_first_output_and_counts_the_rest(output, label):
    assert bench_load._label(output) == label


def test_replay_applies_overrides_then_live_outputs_in_order(monkeypatch):
    sent = []

    def fake_post(self, flow, name, path, query, body):
        sent.append((name, query, body))
        if name == "current.data +1 output":
            k = body["inputs"][0]["value"]
            return {"multi": True, "response": {"current": {"data": {"k": k}}}}
        return {"multi": True, "response": {"box": {"figure": {}}}}

    monkeypatch.setattr(bench_load.Replayer, "_post", fake_post)
    replayer = bench_load.Replayer("http://x", {"recluster": RECLUSTER}, 0.0, [])
    replayer.interaction("recluster", {("segments-k", "value"): 9})
    assert [s[0] for s in sent] == ["current.data +1 output", "box.figure"]
    assert sent[0][2]["inputs"][0]["value"] == 9
    assert sent[1][2]["inputs"][0]["value"] == {"k": 9}  # the live response, not the recording
    assert RECLUSTER[1]["body"]["inputs"][0]["value"] == {"k": 5}  # the recording is untouched


def test_replay_polls_a_background_callback_until_its_result(monkeypatch):
    answers = iter(
        [
            {"cacheKey": "c1", "job": "j1"},
            {"multi": True, "progress": {"p.value": 50}},
            {"multi": True, "response": {"current": {"data": {"k": 3}}}},
            {"multi": True, "response": {"box": {"figure": {}}}},
        ]
    )
    sent = []

    def fake_post(self, flow, name, path, query, body):
        sent.append((name, query, body["inputs"][0]["value"]))
        return next(answers)

    monkeypatch.setattr(bench_load.Replayer, "_post", fake_post)
    replayer = bench_load.Replayer("http://x", {"recluster": RECLUSTER}, 0.0, [])
    replayer.interaction("recluster", {("segments-k", "value"): 3})
    assert [s[1] for s in sent] == ["", "cacheKey=c1&job=j1", "cacheKey=c1&job=j1", ""]
    assert sent[-1] == ("box.figure", "", {"k": 3})


def test_alert_in_a_response_is_an_error():
    opened = {"sideUpdate": {"app-alert": {"is_open": True, "children": "Choose a k"}}}
    closed = {"sideUpdate": {"app-alert": {"is_open": False}}}
    assert bench_load._alert(opened) == "Choose a k"
    assert bench_load._alert(closed) is None
    assert bench_load._alert({"response": {}}) is None


def test_fresh_values_never_repeat_nor_reuse_the_recorded_ones():
    flows = {
        "recluster": [
            _entry(
                "x.data",
                [_item("segments-k", "value", 5), _item("segments-features", "value", None)],
                0,
                1,
            )
        ],
        "period": [
            _entry(
                "y.children",
                [
                    _item("overview-dates", "start_date", "2010-12-17"),
                    _item("overview-dates", "end_date", "2011-12-09"),
                ],
                0,
                1,
            )
        ],
    }
    reclusters, periods = bench_load.fresh_values(flows, 40)
    keys = [
        (r[("segments-k", "value")], str(r[("segments-features", "value")])) for r in reclusters
    ]
    assert len(set(keys)) == 40 and (5, "None") not in keys
    starts = [p[("overview-dates", "start_date")] for p in periods]
    assert len(set(starts)) == 40 and "2010-12-17" not in starts
    assert starts[0] == "2010-12-18"
