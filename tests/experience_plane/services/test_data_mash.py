"""Validation of data mash requests, before anything reaches the Runtime."""

from __future__ import annotations

import pytest

from experience_plane.services import InvalidInputError
from experience_plane.services.data_mash import MAX_CONTENT_REFS, validate_content_refs


def test_refs_are_trimmed_and_kept_in_order() -> None:
    assert validate_content_refs([" file_b", "file_a "]) == ["file_b", "file_a"]


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        ([], "At least one"),
        (["a", " "], "must not be empty"),
        (["a", "b", "a", "b"], "repeated: a, b"),
        (["a", " a"], "repeated: a"),
        ([f"f{i}" for i in range(MAX_CONTENT_REFS + 1)], f"At most {MAX_CONTENT_REFS}"),
    ],
)
def test_bad_refs_are_invalid_input(refs: list[str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        validate_content_refs(refs)
    assert caught.value.field == "contentRefs"
