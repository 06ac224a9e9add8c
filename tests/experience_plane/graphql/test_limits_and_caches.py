"""Query limits, and the parse and validation caches staying effective with them on."""

from __future__ import annotations

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from experience_plane.graphql.schema import build_schema

# A cache size no other test uses, so these counters are this module's alone.
CACHE_SIZE = 97


async def test_validation_cache_hits_with_the_limits_on() -> None:
    schema = build_schema(max_depth=5, max_aliases=3, max_tokens=200, cache_size=CACHE_SIZE)
    query = "query CacheProbe { __typename alias1: __typename }"
    validate = _get_validate_cache(CACHE_SIZE)
    parse = _get_parse_cache(CACHE_SIZE)
    validate.cache_clear()
    parse.cache_clear()

    for _ in range(3):
        result = await schema.execute(query)
        assert result.errors is None

    assert validate.cache_info().misses == 1
    assert validate.cache_info().hits == 2
    assert parse.cache_info().hits == 2


async def test_a_second_schema_with_the_same_limits_is_a_new_cache_key() -> None:
    # The limit rules are made per schema: a fresh app does not reuse another's results.
    validate = _get_validate_cache(CACHE_SIZE)
    validate.cache_clear()
    for _ in range(2):
        await build_schema(cache_size=CACHE_SIZE).execute("{ __typename }")
    assert validate.cache_info().misses == 2


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
