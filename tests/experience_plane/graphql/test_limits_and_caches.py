"""Query limits, and the document cache (parse and validation) staying effective with them on."""

from __future__ import annotations

from experience_plane.graphql.schema import build_schema


async def test_validation_cache_hits_with_the_limits_on() -> None:
    schema = build_schema(max_depth=5, max_aliases=3, max_tokens=200)
    query = "query CacheProbe { __typename alias1: __typename }"
    assert schema.document_cache is not None

    for _ in range(3):
        result = await schema.execute(query)
        assert result.errors is None

    stats = schema.document_cache.stats()
    assert stats.misses == 1  # parsed once
    assert stats.hits == 2
    assert stats.validations == 1  # validated once, with the limits


async def test_a_cached_invalid_document_is_still_refused_with_its_errors() -> None:
    schema = build_schema(max_aliases=1)
    assert schema.document_cache is not None
    for _ in range(2):
        result = await schema.execute("{ a: __typename b: __typename }")
        assert result.errors
        assert "2 aliases found. Allowed: 1" in result.errors[0].message
    assert schema.document_cache.stats().validations == 1


async def test_a_second_schema_with_the_same_limits_is_a_new_cache() -> None:
    # The limit rules are made per schema: a fresh app does not reuse another's results.
    first, second = build_schema(), build_schema()
    for schema in (first, second):
        await schema.execute("{ __typename }")
        assert schema.document_cache is not None
        assert schema.document_cache.stats().validations == 1


async def test_the_cache_is_bounded() -> None:
    schema = build_schema(cache_size=2)
    assert schema.document_cache is not None
    for name in ("A", "B", "C", "A"):
        assert (await schema.execute(f"query {name} {{ __typename }}")).errors is None
    stats = schema.document_cache.stats()
    assert stats.size == 2
    assert stats.misses == 4  # A was evicted by C, so parsed again


async def test_depth_limit() -> None:
    schema = build_schema(max_depth=2)
    deep = """
    { executionStatus(executionId: "x") { artifacts { ... on ContentFile { columns { name } } } } }
    """
    result = await schema.execute(deep)
    assert result.errors
    assert "exceeds maximum operation depth of 2" in result.errors[0].message


async def test_alias_limit() -> None:
    schema = build_schema(max_aliases=2)
    result = await schema.execute("{ a: __typename b: __typename c: __typename }")
    assert result.errors
    assert "3 aliases found. Allowed: 2" in result.errors[0].message


async def test_token_limit() -> None:
    schema = build_schema(max_tokens=10)
    result = await schema.execute("{ " + " ".join(["__typename"] * 20) + " }")
    assert result.errors
    assert "more than 10 tokens" in result.errors[0].message


async def test_introspection_is_not_limited_by_depth() -> None:
    # GraphiQL's introspection query nests `ofType` deeply.
    schema = build_schema(max_depth=3)
    result = await schema.execute(
        "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    )
    assert result.errors is None
