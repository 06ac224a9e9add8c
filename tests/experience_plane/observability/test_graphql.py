"""GraphQL operations are labelled by type and root fields, never by client-chosen names."""

from __future__ import annotations

from graphql import parse

from experience_plane.observability.graphql import operation_label


def test_an_operation_is_labelled_by_its_root_fields_not_its_name_or_aliases() -> None:
    document = parse(
        "query SomeClientName { b: executionStatus(executionId: 1) { id } a: __typename }"
    )
    assert operation_label(document, None) == ("query", "__typename,executionStatus")
    assert operation_label(document, "SomeClientName") == ("query", "__typename,executionStatus")


def test_the_named_operation_of_several_is_chosen() -> None:
    document = parse(
        "query Q { executionStatus(executionId: 1) { id } } "
        "mutation M { createDataMash(input: {contentRefs: []}) { __typename } }"
    )
    assert operation_label(document, "M") == ("mutation", "createDataMash")
    assert operation_label(document, "Nope") == ("unknown", "invalid")


def test_root_fragments_are_counted_without_their_names() -> None:
    document = parse("subscription { ...F } fragment F on Subscription { executionStatus { id } }")
    assert operation_label(document, None) == ("subscription", "...")
    assert operation_label(None, None) == ("unknown", "invalid")
