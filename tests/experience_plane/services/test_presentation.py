"""The one table of expected failures, and what both surfaces present from it."""

from __future__ import annotations

import inspect

import pytest

from experience_plane import services
from experience_plane.auth import AuthFailure
from experience_plane.runtime import Artifact, DataMashArtifact, FileArtifact
from experience_plane.services import errors, presentation
from experience_plane.services.presentation import (
    FAILURES,
    STATUS_BY_CODE,
    complete_artifact,
    details_of,
    failure_of,
    www_authenticate,
)


def _service_errors() -> list[type[services.ServiceError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, services.ServiceError)
    ]


def test_every_service_error_has_exactly_one_row() -> None:
    listed = [row.error for row in FAILURES]
    assert len(listed) == len(set(listed))
    assert set(_service_errors()) == set(listed)


def test_a_code_has_one_status_whichever_row_names_it() -> None:
    for row in FAILURES:
        assert STATUS_BY_CODE[row.code.name] == row.status, row.error.__name__
    for code in services.ErrorCode:
        assert code.name in STATUS_BY_CODE, code.name
    assert STATUS_BY_CODE["UNAUTHENTICATED"] == 401
    assert STATUS_BY_CODE[presentation.INTERNAL_ERROR_CODE] == 500


def test_a_subclass_without_a_row_takes_its_base_class_row() -> None:
    class Flaky(services.RuntimeUnavailableError):
        pass

    assert failure_of(Flaky("down")).error is services.RuntimeUnavailableError
    assert failure_of(services.RuntimeTimeoutError("slow")).status == 504


def test_details_are_the_attributes_the_row_names() -> None:
    error = services.RateLimitedError("slow down", retry_after_seconds=1.5)
    assert details_of(error) == {"retry_after_seconds": 1.5}
    assert details_of(services.NotFoundError("gone")) == {}


@pytest.mark.parametrize(
    ("reason", "challenge"),
    [
        (AuthFailure.MISSING_TOKEN, 'Bearer realm="experience-plane"'),
        (
            AuthFailure.EXPIRED,
            'Bearer realm="experience-plane", error="invalid_token", error_description="expired"',
        ),
    ],
)
def test_the_challenge_names_the_reason_only_when_credentials_were_sent(
    reason: AuthFailure, challenge: str
) -> None:
    assert www_authenticate(reason) == challenge


def _file(*, complete: bool) -> FileArtifact:
    name = "a.csv" if complete else None
    return FileArtifact("f1", name, None, None, None, None, None, None, complete)


async def test_a_complete_artifact_is_not_read_again() -> None:
    async def load(artifact_id: str) -> Artifact:
        raise AssertionError(f"read {artifact_id}")

    artifact = _file(complete=True)
    assert await complete_artifact(artifact, load) is artifact


async def test_a_reduced_artifact_is_read_by_its_id() -> None:
    full = _file(complete=True)
    asked: list[str] = []

    async def load(artifact_id: str) -> Artifact:
        asked.append(artifact_id)
        return full

    assert await complete_artifact(_file(complete=False), load) is full
    assert asked == ["f1"]


async def test_a_record_of_another_kind_keeps_what_the_status_said() -> None:
    mash = DataMashArtifact("f1", None, None, (), (), None, None, complete=True)

    async def load(artifact_id: str) -> Artifact:
        return mash

    reduced = _file(complete=False)
    assert await complete_artifact(reduced, load) is reduced
