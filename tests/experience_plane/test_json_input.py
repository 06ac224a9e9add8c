"""`json_input.loads`: the JSON every surface reads from clients, and what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experience_plane.json_input import MAX_DEPTH, JsonInputError, JsonRefusal, loads
from tests.experience_plane.graphql.hostile import hostile_json, json_values


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + "1" + closer * depth


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": [1, 2.5, "x", null, true]}', {"a": [1, 2.5, "x", None, True]}),
        (nested(MAX_DEPTH), json.loads(nested(MAX_DEPTH))),
        ('"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
        (b'\xef\xbb\xbf{"bom": 1}', {"bom": 1}),  # a UTF-8 byte order mark is ignored
        ("[1e308]", [1e308]),
    ],
)
def test_json_within_the_limits_is_read(text: str | bytes, value: Any) -> None:
    assert loads(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (nested(MAX_DEPTH + 1), JsonRefusal.TOO_DEEP),
        (nested(MAX_DEPTH + 1, '{"k":', "}"), JsonRefusal.TOO_DEEP),
        (nested(10_000), JsonRefusal.TOO_DEEP),  # past where Python's reader gives out
        ('"\\ud800"', JsonRefusal.LONE_SURROGATE),
        ('{"\\udc00x": 1}', JsonRefusal.LONE_SURROGATE),  # as a key
        ('["\\ude00\\ud83d"]', JsonRefusal.LONE_SURROGATE),  # a pair in the wrong order
        ("\ud800", JsonRefusal.LONE_SURROGATE),  # already text
        ("9" * 5000, JsonRefusal.TOO_LARGE),
        (b'"\xed\xa0\x80"', JsonRefusal.MALFORMED),  # a surrogate written as UTF-8 is not UTF-8
        ("NaN", JsonRefusal.MALFORMED),
        ("[-Infinity]", JsonRefusal.MALFORMED),
        ("1e999", JsonRefusal.MALFORMED),
        ('{"a": ', JsonRefusal.MALFORMED),
        ('{"a": 1}'.encode("utf-16"), JsonRefusal.MALFORMED),
    ],
)
def test_json_beyond_the_limits_is_refused_with_a_reason(
    text: str | bytes, reason: JsonRefusal
) -> None:
    with pytest.raises(JsonInputError) as refused:
        loads(text)
    assert refused.value.reason is reason
    assert refused.value.malformed == (reason is JsonRefusal.MALFORMED)
    assert refused.value.message


def test_a_size_limit_counts_bytes() -> None:
    assert loads('"é"', max_bytes=4) == "é"
    with pytest.raises(JsonInputError) as refused:
        loads('"éé"', max_bytes=4)
    assert refused.value.reason is JsonRefusal.TOO_LARGE


@settings(max_examples=300)
@given(value=json_values)
def test_whatever_json_dumps_writes_is_read_back(value: Any) -> None:
    text = json.dumps(value)
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


@settings(max_examples=300)
@given(text=st.one_of(hostile_json(), st.text(max_size=50)), as_bytes=st.booleans())
def test_anything_is_read_or_refused_and_nothing_else(text: str, as_bytes: bool) -> None:
    data: str | bytes = text
    if as_bytes:
        try:
            data = text.encode()
        except UnicodeEncodeError:
            data = text.encode("utf-8", errors="surrogatepass")
    try:
        value = loads(data)
    except JsonInputError:
        return
    # What is read holds no lone surrogate: it encodes as UTF-8 again.
    json.dumps(value, ensure_ascii=False).encode("utf-8")
