"""faults.inject as a pure function: one plan in, one plan out, for every fault kind (no server, no socket)."""

from __future__ import annotations

import pytest

from simulator.errors import APIError
from simulator.plan import Chunk, ResponsePlan
from simulator.scenario.faults import KINDS, Fault, inject, parse_fault

WHOLE = ResponsePlan(status=200, body=b'{"id": "x", "ok": true}', latency_s=0.4, model="gpt-4o")
STREAM = ResponsePlan(status=200, chunks=tuple(Chunk(b"data: %d\n\n" % i, 0.01, True) for i in range(5)),
                      media_type="text/event-stream", latency_s=0.2, model="gpt-4o")


def rendered(e: APIError) -> ResponsePlan:
    return ResponsePlan(status=e.status, body=e.message.encode(), headers=dict(e.headers))


def test_every_kind_is_covered_here() -> None:
    assert set(KINDS) == {"error", "timeout", "reset", "cut", "malformed", "empty", "truncated", "slow", "stall",
                          "stream_error"}


def test_an_error_replaces_the_answer_in_the_providers_shape_and_keeps_the_model() -> None:
    out = inject(WHOLE, parse_fault({"kind": "error", "status": 429, "retry_after": 2}), rendered)
    assert out.status == 429 and out.fault == "error_429" and out.model == "gpt-4o"
    assert out.headers.get("retry-after") == "2" and out.latency_s == 0.05  # an error answers at once
    assert WHOLE.status == 200 and WHOLE.fault is None  # the input plan is untouched


@pytest.mark.parametrize("plan", [WHOLE, STREAM], ids=["whole", "stream"])
def test_wire_actions(plan: ResponsePlan) -> None:
    assert inject(plan, Fault("reset"), rendered).abort == "reset"
    assert inject(plan, Fault("timeout", seconds=30), rendered).hold_s == 30
    assert inject(plan, Fault("slow", bytes_per_second=100), rendered).bytes_per_second == 100
    empty = inject(plan, Fault("empty"), rendered)
    assert empty.body == b"" and empty.chunks is None and empty.status == 200
    whole = plan.body if plan.chunks is None else b"".join(c.data for c in plan.chunks)
    truncated = inject(plan, Fault("truncated"), rendered)
    assert truncated.chunks is None and truncated.body == whole[: len(whole) // 2]


def test_stream_faults_act_after_k_chunks() -> None:
    cut = inject(STREAM, Fault("cut", after_chunks=2), rendered)
    assert cut.abort == "cut" and [c.data for c in cut.chunks or ()] == [b"data: 0\n\n", b"data: 1\n\n"]
    bad = inject(STREAM, Fault("malformed", after_chunks=1), rendered)
    assert len(bad.chunks or ()) == 6 and b"chatcmpl-broken" in (bad.chunks or ())[1].data
    stall = inject(STREAM, Fault("stall", after_chunks=3, seconds=5), rendered)
    assert [c.delay_s for c in stall.chunks or ()] == [0.01, 0.01, 0.01, 5.01, 0.01]
    event = inject(STREAM, parse_fault({"kind": "stream_error", "after_chunks": 2}), rendered,
                   stream_error=lambda e: b"event: error\ndata: %d\n\n" % e.status)
    assert [c.data for c in event.chunks or ()][-1] == b"event: error\ndata: 529\n\n" and len(event.chunks or ()) == 3
    assert event.abort is None  # the stream ends there, cleanly, as the provider ends it


def test_whole_body_faults() -> None:
    assert inject(WHOLE, Fault("cut"), rendered).abort == "cut"
    assert inject(WHOLE, Fault("malformed"), rendered).body == b'{"id": "x", "ok": true,}'
    assert inject(WHOLE, Fault("stall", seconds=3), rendered).hold_s == 3
    # A stream_error on a whole answer has no stream to break: it is the provider's error answer.
    assert inject(WHOLE, parse_fault({"kind": "stream_error"}), rendered).status == 529


@pytest.mark.parametrize("spec,what", [
    ({"kind": "meteor"}, "kind: unknown fault kind"),
    ({"kind": "error", "status": 418}, "status"),
    ({"kind": "cut", "colour": "red"}, "colour: unknown fault key"),
])
def test_bad_fault_specs_name_the_key(spec: dict[str, object], what: str) -> None:
    with pytest.raises(ValueError, match=what):
        parse_fault(spec)
