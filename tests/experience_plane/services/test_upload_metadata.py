"""Whatever a client sends as a file name or media type, what is stored is safe."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from experience_plane.services.upload_metadata import (
    DEFAULT_MIME_TYPE,
    MAX_FILENAME_BYTES,
    safe_filename,
    upload_metadata,
    valid_media_type,
)

# Names an attacker or a careless client would send: paths, controls, dots, long runs.
hostile_names = st.text(
    alphabet=st.one_of(
        st.sampled_from(["/", "\\", ".", " ", "\x00", "\r", "\n", "\x7f", "\x85", ":"]),
        st.characters(exclude_categories=()),  # lone surrogates too
    ),
    max_size=400,
)
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+/[!#$%&'*+\-.^_`|~0-9a-z]+")


def assert_safe(name: str) -> None:
    encoded = name.encode("utf-8")  # no lone surrogates either
    assert 0 < len(encoded) <= MAX_FILENAME_BYTES
    assert name not in (".", "..")
    assert "/" not in name
    assert "\\" not in name
    assert not any(unicodedata.category(char) in ("Cc", "Cs", "Cf") for char in name)
    assert unicodedata.is_normalized("NFC", name)
    assert name == name.strip()


@given(hostile_names)
def test_any_name_becomes_a_safe_base_name(name: str) -> None:
    assert_safe(safe_filename(name))


@given(hostile_names, st.sampled_from([".csv", ".json", ".gz", ""]))
def test_a_long_name_keeps_its_extension(stem: str, extension: str) -> None:
    name = safe_filename("x" + stem * 50 + "y" + extension)
    assert_safe(name)
    assert name.endswith(extension)


@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300))
def test_any_media_type_becomes_a_valid_one(name: str, asked: str, sent: str) -> None:
    metadata = upload_metadata(name, asked, sent)
    assert_safe(metadata.filename)
    essence, _, parameters = metadata.mime_type.partition(";")
    assert TOKEN.fullmatch(essence)
    assert not re.search(r"[\x00-\x1f\x7f-\U0010ffff]", parameters.replace("\t", " "))
    if metadata.mime_type_replaced:
        assert metadata.mime_type == DEFAULT_MIME_TYPE


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../x.csv", "x.csv"),
        ("/etc/passwd", "passwd"),
        ("C:\\x\\y.csv", "y.csv"),
        ("C:y.csv", "y.csv"),
        ("a\x00b\r\n.csv", "ab.csv"),
        ("report\u202efdp.exe", "reportfdp.exe"),  # a bidi override would show "exe.pdf"
        ("Cafe\u0301.csv", "Caf\u00e9.csv"),  # NFC
        ("dir/", "dir"),
        ("..", "upload"),
        (".", "upload"),
        ("", "upload"),
        (None, "upload"),
        (".csv", "upload.csv"),
        ("../.env", "upload.env"),
        ("  notes.txt  ", "notes.txt"),
    ],
)
def test_names_are_cleaned(sent: str | None, stored: str) -> None:
    assert safe_filename(sent) == stored


def test_a_10_kb_name_is_trimmed_on_a_character_boundary_keeping_its_extension() -> None:
    name = safe_filename("é" * 5000 + ".csv")
    assert name == "é" * 125 + ".csv"  # 254 bytes: half an "é" does not fit
    assert len(name.encode()) == 254


def test_an_empty_name_takes_its_extension_from_the_media_type() -> None:
    assert safe_filename("", mime_type="text/csv") == "upload.csv"
    assert upload_metadata(None, None, "application/json").filename == "upload.json"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("text/csv", "text/csv"),
        ("Text/CSV", "text/csv"),
        ("text/csv; charset=utf-8", "text/csv; charset=utf-8"),
        ('text/plain; format="flowed; x"', 'text/plain; format="flowed; x"'),
        ("application/vnd.api+json", "application/vnd.api+json"),
        ("text/csv;", "text/csv"),
        ("text/csv\r\nX-Injected: 1", None),
        ("text/csv; charset=utf-8\r\nX-Injected: 1", None),
        ("text/csv; charset", None),
        ("text", None),
        ("text/", None),
        ("/csv", None),
        ("text/csv/x", None),
        ("té/csv", None),
        ("text/csv\x00", None),
        ("a/" + "b" * 300, None),
    ],
)
def test_media_types_are_rfc_9110_ones(value: str, valid: str | None) -> None:
    assert valid_media_type(value) == valid


def test_an_invalid_media_type_is_replaced_and_noted() -> None:
    metadata = upload_metadata("x.csv", "text/csv\r\nX-Injected: 1", "text/csv")
    assert (metadata.mime_type, metadata.mime_type_replaced) == (DEFAULT_MIME_TYPE, True)
    sent = upload_metadata("x.csv", None, "text/csv\x00")
    assert (sent.mime_type, sent.mime_type_replaced) == (DEFAULT_MIME_TYPE, True)


@pytest.mark.parametrize(
    ("asked", "sent", "stored"),
    [
        ("text/plain", "text/csv", "text/plain"),  # what the caller asked for wins
        (None, "text/csv; charset=utf-8", "text/csv"),  # the part's, without parameters
        (None, "application/octet-stream", "text/csv"),  # says nothing: the name decides
        (None, None, "text/csv"),
    ],
)
def test_where_the_media_type_comes_from(asked: str | None, sent: str | None, stored: str) -> None:
    metadata = upload_metadata("data.csv", asked, sent)
    assert (metadata.mime_type, metadata.mime_type_replaced) == (stored, False)
