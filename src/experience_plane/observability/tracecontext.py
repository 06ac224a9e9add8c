"""W3C Trace Context (`traceparent`) for the request being served, and the headers every
Runtime call carries.
The incoming `traceparent` is continued (same trace id, the caller's span as parent) or, when
there is none or it is malformed, a new trace starts. The span id of the current unit of work
(the request, or a Runtime call when OpenTelemetry records spans) is what the Runtime receives as
its parent, so the Runtime's logs and spans join the caller's trace. See
https://www.w3.org/TR/trace-context/.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar, Token
from dataclasses import dataclass

from experience_plane.middleware import REQUEST_ID_HEADER, current_request_id

__all__ = [
    "TRACEPARENT_HEADER",
    "TraceContext",
    "current_trace",
    "outgoing_headers",
    "reset_trace",
    "set_trace",
]

TRACEPARENT_HEADER = "traceparent"
# version-traceid-parentid-flags, lower-case hex. Version ff is forbidden; a later version may
# append fields, which are ignored (the spec's forward-compatibility rule).
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<span_id>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?"
)
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
SAMPLED = 0x01


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span's place in a trace: the trace id, this span's id and the trace flags."""

    trace_id: str
    span_id: str
    flags: int = SAMPLED

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        """The context a `traceparent` header names (its span is the caller's), or None when
        the header is absent or invalid (an invalid one must be ignored, not repaired)."""
        if not header:
            return None
        match = _TRACEPARENT.fullmatch(header.strip())
        if match is None or match["version"] == "ff":
            return None
        if match["version"] == "00" and match["rest"]:
            return None  # version 00 has exactly four fields
        if match["trace_id"] == _ZERO_TRACE or match["span_id"] == _ZERO_SPAN:
            return None
        return cls(match["trace_id"], match["span_id"], int(match["flags"], 16))

    @classmethod
    def start(cls) -> TraceContext:
        """A new trace, sampled, with a fresh root span."""
        return cls(_random_id(128), _random_id(64), SAMPLED)

    def child(self) -> TraceContext:
        """A new span in the same trace (its parent is this one)."""
        return TraceContext(self.trace_id, _random_id(64), self.flags)

    @property
    def traceparent(self) -> str:
        """This span as a `traceparent` header value (version 00)."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


def _random_id(bits: int) -> str:
    # Ids must be unique, not secret (OpenTelemetry's own generator does the same); this runs
    # for every request, where a system-random read costs more. Never all zeros (invalid).
    value = random.getrandbits(bits) or 1
    return f"{value:0{bits // 4}x}"


_trace: ContextVar[TraceContext | None] = ContextVar("experience_plane_trace", default=None)


def current_trace() -> TraceContext | None:
    """The trace context of the work being done, if a request (or a span) set one."""
    return _trace.get()


def set_trace(context: TraceContext | None) -> Token[TraceContext | None]:
    """Make `context` current; pass the token to `reset_trace` to restore the previous one."""
    return _trace.set(context)


def reset_trace(token: Token[TraceContext | None]) -> None:
    """Restore the trace context that was current before `set_trace` returned `token`."""
    _trace.reset(token)


def outgoing_headers() -> dict[str, str]:
    """`traceparent` and `X-Request-Id` for a call to the Runtime made on behalf of the current
    request (empty outside of one)."""
    headers: dict[str, str] = {}
    trace = _trace.get()
    if trace is not None:
        headers[TRACEPARENT_HEADER] = trace.traceparent
    request_id = current_request_id()
    if request_id is not None:
        headers[REQUEST_ID_HEADER] = request_id
    return headers
