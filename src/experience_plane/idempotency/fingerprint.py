"""Fingerprints of a request's input: equal input, equal fingerprint, in any process, forever.
The input is reduced to a canonical JSON form (mapping keys sorted, tuples as lists, sets
sorted, no insignificant whitespace) and hashed with SHA-256. Values JSON has no type for are
written as one-key tagged objects (`{"$bytes": <sha256>}`, `{"$datetime": <iso>}`, ...), so
that bytes and a string that happen to look alike do not collide, and large content is hashed
rather than copied.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import uuid
from collections.abc import Mapping, Set
from decimal import Decimal
from enum import Enum

__all__ = ["fingerprint"]


def fingerprint(obj: object) -> str:
    """The SHA-256 (hex) of `obj`'s canonical form.

    Accepts None, bools, ints, finite floats, strings, enums (by value), mappings with string
    keys, lists, tuples, sets, bytes (by their own hash), dates, datetimes, UUIDs, decimals,
    dataclass instances and pydantic models (by their fields). Raises `TypeError` for anything
    else and `ValueError` for NaN or an infinity, which have no canonical form.
    """
    text = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(obj: object) -> object:
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"{obj!r} has no canonical form")
        return obj
    if isinstance(obj, Enum):
        return _canonical(obj.value)
    if isinstance(obj, Mapping):
        canonical: dict[str, object] = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"mapping keys must be strings, not {type(key).__name__}")
            canonical[key] = _canonical(value)
        return canonical
    if isinstance(obj, list | tuple):
        return [_canonical(item) for item in obj]
    if isinstance(obj, Set):
        items = [_canonical(item) for item in obj]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(obj, bytes | bytearray | memoryview):
        return {"$bytes": hashlib.sha256(obj).hexdigest()}
    if isinstance(obj, datetime.datetime):
        return {"$datetime": obj.isoformat()}
    if isinstance(obj, datetime.date):
        return {"$date": obj.isoformat()}
    if isinstance(obj, uuid.UUID | Decimal):
        return {f"${type(obj).__name__.lower()}": str(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}
        return _canonical(fields)
    dump = getattr(obj, "model_dump", None)
    if callable(dump):  # a pydantic model
        return _canonical(dump(mode="json"))
    raise TypeError(f"cannot fingerprint a {type(obj).__name__}")
