"""GraphQL object types derived from the domain's dataclasses, so each shape has one definition.

A domain dataclass (`runtime.ColumnProfile`, `runtime.SourceColumn`, ...) is the definition: the
derived type has its fields in order, their types (a tuple becomes a list, a nested dataclass the
type derived from it) and its docstring as description, which REST's OpenAPI document shows too.
A field's description is the `pydantic.Field(description=...)` in its annotation, shared with
REST, or else the one given to `schema_type`; resolvers return the domain values as they are.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Optional, Union, get_args, get_origin, get_type_hints

import strawberry
from pydantic.fields import FieldInfo

__all__ = ["schema_type"]

# Domain dataclass -> the one GraphQL type derived from it, for the types that nest it.
_derived: dict[type, type] = {}


def schema_type(
    domain: type,
    *,
    descriptions: Mapping[str, str] | None = None,
    types: Mapping[str, object] | None = None,
) -> type[Any]:
    """The GraphQL object type of the dataclass `domain`, named like it.

    `descriptions` describes the fields whose annotation has no `pydantic.Field` description, and
    `types` replaces a field's GraphQL type (`strawberry.ID` for a `str` id). A field described
    nowhere or twice, a name that is no field, or a nested dataclass not derived yet raises at
    import, not a silently undocumented schema. A domain class is derived once.
    """
    if not dataclasses.is_dataclass(domain):
        raise TypeError(f"{domain.__name__} is not a dataclass")
    if domain in _derived:
        raise ValueError(f"{domain.__name__} is already derived")
    descriptions = descriptions or {}
    types = types or {}
    hints = get_type_hints(domain, include_extras=True)
    names = [field.name for field in dataclasses.fields(domain)]
    unknown = sorted((set(descriptions) | set(types)) - set(names))
    if unknown:
        raise ValueError(f"{domain.__name__} has no field {', '.join(unknown)}")
    shared = {name: _described(hints[name]) for name in names}
    twice = [name for name in names if shared[name] and name in descriptions]
    if twice:
        raise ValueError(f"{domain.__name__}: described twice: {', '.join(twice)}")
    undescribed = [name for name in names if not shared[name] and name not in descriptions]
    if undescribed:
        raise ValueError(f"{domain.__name__}: no description for {', '.join(undescribed)}")
    namespace: dict[str, object] = {
        "__annotations__": {
            name: types[name] if name in types else _schema_annotation(hints[name], domain)
            for name in names
        },
        "__doc__": domain.__doc__,
    }
    for name in names:
        namespace[name] = strawberry.field(description=shared[name] or descriptions[name])
    derived: type[Any] = strawberry.type(
        type(domain.__name__, (), namespace), description=inspect.getdoc(domain)
    )
    _derived[domain] = derived
    return derived


def _described(hint: object) -> str | None:
    """The description of a pydantic `Field` in an `Annotated` hint, if it has one."""
    if get_origin(hint) is not Annotated:
        return None
    infos = [meta for meta in get_args(hint)[1:] if isinstance(meta, FieldInfo)]
    return next((info.description for info in infos if info.description), None)


def _schema_annotation(hint: object, domain: type) -> object:
    """The GraphQL annotation of a domain field's type hint."""
    origin = get_origin(hint)
    if origin is Annotated:
        return _schema_annotation(get_args(hint)[0], domain)
    if origin is tuple:
        item, *rest = get_args(hint)
        if rest != [Ellipsis]:
            raise TypeError(f"{domain.__name__}: only tuple[X, ...] is a list, not {hint}")
        return list[_schema_annotation(item, domain)]  # type: ignore[misc]
    if origin in (Union, UnionType):
        args = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(args) != len(get_args(hint)) - 1 or len(args) != 1:
            raise TypeError(f"{domain.__name__}: only X | None is a nullable type, not {hint}")
        return Optional[_schema_annotation(args[0], domain)]  # noqa: UP045
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if hint not in _derived:
            raise TypeError(f"{domain.__name__}: derive {hint.__name__} before the types using it")
        return _derived[hint]
    return hint
