"""Logging for production: one JSON object per line, each carrying the request id and trace.
`configure_logging` sets up the root logger, and `uvicorn_log_config` hands uvicorn the same
handler for its error and access logs, so every line of the process has one shape. A filter on
the handler stamps each record with the request id and trace id of the request being served
(from their context variables), so a line logged anywhere during a request, uvicorn's access
line included, can be found from the id a client quotes.
"""

from __future__ import annotations

import json
import logging
import time
from enum import StrEnum
from typing import Any

from experience_plane.middleware import current_request_id
from experience_plane.observability.tracecontext import current_trace

__all__ = [
    "JsonFormatter",
    "LogFormat",
    "RequestContextFilter",
    "configure_logging",
    "uvicorn_log_config",
]

TEXT_FORMAT = "%(levelname)s:     %(name)s: %(message)s [request_id=%(request_id)s]"
# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "trace_id",
    "span_id",
    "color_message",
}


class LogFormat(StrEnum):
    """`json`: one object per line, for log collectors; `text`: for people at a terminal."""

    JSON = "json"
    TEXT = "text"


class RequestContextFilter(logging.Filter):
    """Adds `request_id`, `trace_id` and `span_id` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        trace = current_trace()
        record.trace_id = trace.trace_id if trace is not None else "-"
        record.span_id = trace.span_id if trace is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, RFC 3339), level, logger, message, request and
    trace ids, `extra=` fields, and the traceback as `exc_info` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "trace_id", "span_id"):
            value = getattr(record, key, "-")
            if value != "-":
                entry[key] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def _rfc3339(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def _formatter(log_format: LogFormat) -> dict[str, Any]:
    if log_format is LogFormat.JSON:
        return {"()": JsonFormatter}
    return {"format": TEXT_FORMAT}


def uvicorn_log_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn's `log_config`: the root logger, uvicorn's
    error log and its access log all write to stderr through the request context filter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": RequestContextFilter}},
        "formatters": {"default": _formatter(log_format)},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            # Propagate to the root's one handler instead of uvicorn's own colourful ones.
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level.upper(), "propagate": True},
            # A line per Runtime request is debugging detail: the metrics count them.
            "httpx": {"level": level.upper() if level.upper() == "DEBUG" else "WARNING"},
        },
    }


def configure_logging(log_format: LogFormat, level: str = "INFO") -> None:
    """Apply `uvicorn_log_config` to this process (before uvicorn starts, so that lines logged
    while the app is built already have the final shape)."""
    import logging.config

    logging.config.dictConfig(uvicorn_log_config(log_format, level))
