"""Log lines: JSON objects with the request and trace ids of the request being served."""

from __future__ import annotations

import json
import logging
import sys

from experience_plane.observability.logging import (
    JsonFormatter,
    LogFormat,
    RequestContextFilter,
    uvicorn_log_config,
)
from experience_plane.observability.tracecontext import TraceContext, reset_trace, set_trace
from experience_plane.request_ids import request_id_var
from experience_plane.settings import Settings

TRACE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord(
        "experience_plane.test", logging.WARNING, __file__, 1, message, args, None
    )
    entry.__dict__.update(extra)
    return entry


def formatted(entry: logging.LogRecord) -> dict[str, object]:
    RequestContextFilter().filter(entry)
    line = JsonFormatter().format(entry)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_a_line_during_a_request_carries_its_ids() -> None:
    request_token = request_id_var.set("req-42")
    trace_token = set_trace(TRACE)
    try:
        entry = formatted(record("answered %s in %d ms", "GET /x", 12, tenant="t1"))
    finally:
        reset_trace(trace_token)
        request_id_var.reset(request_token)
    assert entry["message"] == "answered GET /x in 12 ms"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "experience_plane.test"
    assert entry["request_id"] == "req-42"
    assert entry["trace_id"] == TRACE.trace_id
    assert entry["span_id"] == TRACE.span_id
    assert entry["tenant"] == "t1"
    assert isinstance(entry["time"], str)
    assert entry["time"].endswith("Z")


def test_a_line_outside_a_request_has_no_ids_and_keeps_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        entry = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, 'failed "quoted"', None, sys.exc_info()
        )
    parsed = formatted(entry)
    assert "request_id" not in parsed
    assert "trace_id" not in parsed
    assert parsed["message"] == 'failed "quoted"'
    assert isinstance(parsed["exc_info"], str)
    assert "ValueError: boom" in parsed["exc_info"]


def test_the_format_follows_the_environment_unless_set() -> None:
    assert Settings().log_format_in_force is LogFormat.JSON
    assert Settings(environment="development").log_format_in_force is LogFormat.TEXT
    assert Settings(environment="development", log_format="json").log_format_in_force is (
        LogFormat.JSON
    )


def test_uvicorn_logs_go_through_the_one_filtered_handler() -> None:
    config = uvicorn_log_config(LogFormat.TEXT, "warning")
    assert config["handlers"]["default"]["filters"] == ["request_context"]
    assert config["root"] == {"handlers": ["default"], "level": "WARNING"}
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name]["propagate"] is True
        assert config["loggers"][name]["handlers"] == []
    assert "%(request_id)s" in config["formatters"]["default"]["format"]
