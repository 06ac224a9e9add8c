"""Fingerprints and key parsing."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from decimal import Decimal
from enum import Enum

import pytest

from experience_plane.idempotency import (
    MAX_KEY_LENGTH,
    InvalidIdempotencyKey,
    fingerprint,
    parse_idempotency_key,
)


class Level(Enum):
    HIGH = "high"


@dataclasses.dataclass
class Options:
    name: str
    level: Level


def test_equal_input_has_an_equal_fingerprint_whatever_the_order() -> None:
    one = {"content_refs": ["f1", "f2"], "options": {"name": "m", "level": "high"}}
    two = {"options": {"level": "high", "name": "m"}, "content_refs": ("f1", "f2")}
    assert fingerprint(one) == fingerprint(two)
    assert len(fingerprint(one)) == 64


@pytest.mark.parametrize(
    ("one", "two"),
    [
        ({"refs": ["f1", "f2"]}, {"refs": ["f2", "f1"]}),  # a list's order matters
        ({"a": None}, {}),
        ({"a": 1}, {"a": "1"}),
        ({"a": True}, {"a": 1}),
        (b"abc", "abc"),
        ({"a": 1.5}, {"a": 1.25}),
    ],
)
def test_different_input_has_a_different_fingerprint(one: object, two: object) -> None:
    assert fingerprint(one) != fingerprint(two)


def test_richer_values_have_canonical_forms() -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    value = {
        "set": {"b", "a"},
        "bytes": b"\x00" * 1000,
        "when": when,
        "day": when.date(),
        "id": uuid.UUID(int=1),
        "amount": Decimal("1.10"),
        "options": Options("m", Level.HIGH),
    }
    assert fingerprint(value) == fingerprint(dict(value, set=frozenset({"a", "b"})))
    assert fingerprint(Options("m", Level.HIGH)) == fingerprint({"name": "m", "level": "high"})


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({1: "a"}, TypeError),
        (object(), TypeError),
        (float("nan"), ValueError),
        ({"a": float("inf")}, ValueError),
    ],
)
def test_values_without_a_canonical_form_are_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        fingerprint(value)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('  "quoted-in-the-header"  ', "quoted-in-the-header"),
        ("x" * MAX_KEY_LENGTH, "x" * MAX_KEY_LENGTH),
    ],
)
def test_keys_are_parsed(raw: str, key: str) -> None:
    assert parse_idempotency_key(raw) == key


@pytest.mark.parametrize("raw", ["", "   ", '""', "x" * (MAX_KEY_LENGTH + 1), "a b", "clé"])
def test_bad_keys_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdempotencyKey, match="idempotency key") as caught:
        parse_idempotency_key(raw)
    assert isinstance(caught.value, ValueError)  # callers may treat it as bad input
