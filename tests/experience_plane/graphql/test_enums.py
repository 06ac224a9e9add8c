"""The schema's enums are derived from the domain's: same members, every one described."""

from __future__ import annotations

from enum import StrEnum

import pytest

from experience_plane import runtime, services
from experience_plane.graphql.data_mash import ConfidenceLevel
from experience_plane.graphql.enums import schema_enum
from experience_plane.graphql.executions import ExecutionState


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


def test_the_schema_enums_have_the_domain_members_as_values() -> None:
    for derived, domain in (
        (ExecutionState, runtime.ExecutionState),
        (ConfidenceLevel, services.ConfidenceLevel),
    ):
        assert [(member.name, member.value) for member in derived] == [
            (member.name, member) for member in domain
        ]


def test_a_domain_member_without_a_description_fails_at_once() -> None:
    with pytest.raises(ValueError, match="Colour: no description for GREEN"):
        schema_enum(Colour, description="Colours.", values={Colour.RED: "Red."})
