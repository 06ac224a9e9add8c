"""W3C trace context: what is continued, what is refused, what the Runtime is sent."""

from __future__ import annotations

import re

import pytest

from experience_plane.observability.tracecontext import (
    TraceContext,
    outgoing_headers,
    reset_trace,
    set_trace,
)
from experience_plane.request_ids import request_id_var

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_a_valid_traceparent_is_continued() -> None:
    parsed = TraceContext.parse(f"00-{TRACE}-{SPAN}-01")
    assert parsed == TraceContext(TRACE, SPAN, 1)
    child = parsed.child()
    assert child.trace_id == TRACE
    assert child.flags == 1
    assert re.fullmatch(r"[0-9a-f]{16}", child.span_id)
    assert child.span_id != SPAN
    assert child.traceparent == f"00-{TRACE}-{child.span_id}-01"


def test_an_unsampled_trace_stays_unsampled() -> None:
    parsed = TraceContext.parse(f"00-{TRACE}-{SPAN}-00")
    assert parsed is not None
    assert parsed.child().traceparent.endswith("-00")


def test_a_later_version_with_more_fields_is_read() -> None:
    assert TraceContext.parse(f"01-{TRACE}-{SPAN}-01-extra") == TraceContext(TRACE, SPAN, 1)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"ff-{TRACE}-{SPAN}-01",  # forbidden version
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has four fields
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE.upper()}-{SPAN}-01",  # upper-case hex
        f"00-{TRACE[:-1]}-{SPAN}-01",
    ],
)
def test_an_invalid_traceparent_is_ignored(header: str | None) -> None:
    assert TraceContext.parse(header) is None


def test_a_new_trace_is_sampled_and_well_formed() -> None:
    started = TraceContext.start()
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", started.traceparent)
    assert TraceContext.start().trace_id != started.trace_id


def test_outgoing_headers_carry_the_current_trace_and_request_id() -> None:
    assert outgoing_headers() == {}
    trace = TraceContext(TRACE, SPAN, 1)
    token = set_trace(trace)
    request_token = request_id_var.set("req-1")
    try:
        assert outgoing_headers() == {
            "traceparent": f"00-{TRACE}-{SPAN}-01",
            "x-request-id": "req-1",
        }
    finally:
        request_id_var.reset(request_token)
        reset_trace(token)
    assert outgoing_headers() == {}
