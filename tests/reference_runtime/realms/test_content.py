"""Format detection and what a file's description says."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_runtime.realms.content import (
    ContentError,
    FileProfile,
    describe_file,
    parse_content,
    profile_file,
    read_table,
)


@pytest.mark.parametrize(
    ("data", "filename", "expected_format", "tabular"),
    [
        (b"a,b\n1,2\n", "x.csv", "csv", True),
        (b"a;b\n1;2\n3;4\n", "data.txt", "csv", True),
        (b"a\tb\n1\t2\n", "x.tsv", "csv", True),
        (b'[{"a": 1}, {"b": 2}]', "x.json", "json", True),
        (b'{"a": 1}', "x.json", "json", False),
        (b"[1, 2, 3]", "x.json", "json", False),
        (b'{"a": 1}\n{"a": 2}\n', "x.ndjson", "ndjson", True),
        (b"hello there\nsecond line\n", "notes.txt", "text", False),
        (b"", "empty.txt", "text", False),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "x.png", "binary", False),
        (b"\xff\xfe\xfa", "x.bin", "binary", False),
    ],
)
def test_format_detection(data: bytes, filename: str, expected_format: str, tabular: bool) -> None:
    parsed = parse_content(data, filename)
    assert (parsed.format, parsed.table is not None) == (expected_format, tabular)


def test_json_array_columns_are_the_union_of_keys_in_order_of_appearance() -> None:
    parsed = parse_content(b'[{"a": 1, "b": "x"}, {"c": true, "a": 2}]', "x.json")
    assert parsed.table is not None
    assert parsed.table.columns == ["a", "b", "c"]
    assert parsed.table.rows == [[1, "x", None], [2, None, True]]


def test_csv_rows_are_padded_and_a_utf8_bom_is_ignored() -> None:
    parsed = parse_content("\ufeffid,name\n1,Ann\n2\n".encode(), "x.csv")
    assert parsed.table is not None
    assert parsed.table.columns == ["id", "name"]
    assert parsed.table.rows == [["1", "Ann"], ["2", None]]


def test_broken_csv_declared_as_csv_is_an_error_that_names_the_file() -> None:
    with pytest.raises(ContentError, match=r"bad\.csv is not readable as CSV"):
        parse_content(b'a,b\n"1,2\n', "bad.csv", "text/csv")


def test_description_of_opaque_content_has_no_columns() -> None:
    parsed = parse_content(b"\x00\x01\x02", "blob.bin")
    payload = describe_file(
        file_id="file_1",
        filename="blob.bin",
        mime_type="application/octet-stream",
        size=3,
        sha256="ab",
        profile=FileProfile.of(parsed),
        created_at="2024-05-01T10:00:00+00:00",
    )
    assert payload == {
        "file_id": "file_1",
        "filename": "blob.bin",
        "mime_type": "application/octet-stream",
        "size": 3,
        "sha256": "ab",
        "created_at": "2024-05-01T10:00:00+00:00",
        "format": "binary",
        "tabular": False,
        "columns": None,
        "row_count": None,
    }


@pytest.mark.parametrize(
    ("data", "filename", "mime_type"),
    [
        ("\ufeffid,name,joined\n1,Ann,2024-01-02\n2\n\n3,Bo,x,extra\n".encode(), "x.csv", ""),
        (b"a;b\n1;2\n3;4\nnull;5\n", "data.txt", ""),
        (b"a\tb\n1\t\n", "x.tsv", ""),
        (b"only,a,header\n", "h.csv", "text/csv"),
        (b"hello there\nsecond line\n", "notes.txt", ""),
        ("caf\u00e9\n".encode() + b"\xff", "latin.txt", ""),
        (b"\x00\x01binary", "x.bin", ""),
        (b'{"a": 1}\n{"a": 2}\n', "x.ndjson", ""),
        (b'[{"a": 1}, {"b": true}]', "x.json", ""),
    ],
)
def test_a_streamed_profile_is_the_in_memory_one(
    data: bytes, filename: str, mime_type: str, tmp_path: Path
) -> None:
    path = tmp_path / filename
    path.write_bytes(data)
    streamed = profile_file(path, filename, mime_type, stream_above=0)
    assert streamed == FileProfile.of(parse_content(data, filename, mime_type))


def test_a_streamed_file_declared_csv_but_broken_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b'a,b\n"1,2\n')
    with pytest.raises(ContentError, match=r"bad\.csv is not readable as CSV"):
        profile_file(path, "bad.csv", "text/csv", stream_above=0)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"id,name\n1,Ann\n\n2\n3,Cy,extra\n", "x.csv"),
        (b'[{"a": 1, "b": "x"}, {"c": true, "a": 2}]', "x.json"),
        (b'{"a": 1}\n{"a": 2}\n', "x.ndjson"),
        (b"a;b\n1;2\n3;4\n", "data.txt"),
    ],
)
def test_a_stored_table_reads_as_in_memory(tmp_path: Path, data: bytes, filename: str) -> None:
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert read_table(path, filename) == parse_content(data, filename).table


def test_a_stored_file_that_is_no_table_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"hello there\nsecond line\n")
    assert read_table(path, "notes.txt") is None
    path.write_bytes(b'a,b\n"1,2\n')
    with pytest.raises(ContentError, match=r"bad\.csv is not readable as CSV"):
        read_table(path, "bad.csv", "text/csv")
