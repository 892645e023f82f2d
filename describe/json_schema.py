"""JSON Schema building blocks, and the schema of a Python type: what turns core/shapes.py's TypedDicts into
the objects both documents describe.

Only what JSON Schema draft-07 (AsyncAPI's default) and 2020-12 (OpenAPI 3.1's) read alike.
"""

from __future__ import annotations

import types
from collections.abc import Collection, Mapping
from dataclasses import asdict
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,
    Required,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from core.shapes import JSONSchema

Schema = dict[str, Any]

PRIMITIVES: dict[object, Schema] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if isinstance(schema.get("type"), str) and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def enum(values: Collection[str]) -> Schema:
    return {"type": "string", "enum": list(values)}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(fields: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """A closed object: every field of `fields` is always sent, those of `optional` sometimes."""
    schema: Schema = {
        "type": "object",
        "properties": {**fields, **(optional or {})},
        "additionalProperties": False,
    }
    if fields:
        schema["required"] = list(fields)
    return schema


def type_schema(hint: object, names: Mapping[object, str]) -> Schema:
    """The schema of a type; a TypedDict in it is a $ref to its name in `names` (a component)."""
    origin, args = get_origin(hint), get_args(hint)
    # `object` is what a JSON value of any kind is typed as where Any is not allowed (mypy --strict).
    if hint is Any or hint is object:
        return {}
    if hint in PRIMITIVES:
        return dict(PRIMITIVES[hint])
    if is_typeddict(hint):
        if hint not in names:
            raise ValueError(f"{hint!r} is in a described shape but is no component of its own")
        return ref(names[hint])
    if origin is Annotated:
        keywords = {
            key: value
            for mark in args[1:]
            if isinstance(mark, JSONSchema)
            for key, value in asdict(mark).items()
            if value is not None
        }
        return type_schema(args[0], names) | keywords
    if origin is Literal:
        return enum(args) if all(isinstance(value, str) for value in args) else {"enum": list(args)}
    if origin in (Union, types.UnionType):
        return field_schema(hint, names)
    if origin is list:
        return array(type_schema(args[0], names))
    if origin is dict and args[0] is str:
        return {"type": "object", "additionalProperties": type_schema(args[1], names)}
    raise ValueError(f"no JSON Schema for {hint!r}")


def field_schema(hint: object, names: Mapping[object, str], more: Schema | None = None) -> Schema:
    """A field's schema: its type's, with the keywords of `more` over it; `X | None` stays nullable after them."""
    members = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    present = [member for member in members if member is not type(None)]
    if len(present) == 1:
        schema = type_schema(present[0], names)
    else:
        schema = {"anyOf": [type_schema(member, names) for member in present]}
    schema = schema | (more or {})
    return nullable(schema) if len(present) < len(members) else schema


def object_schema(
    shape: type,
    names: Mapping[object, str],
    more: Mapping[str, Schema] | None = None,
    may_lack: Collection[str] = (),
) -> Schema:
    """A TypedDict as a closed object. `more`: field -> keywords its type cannot say (an enum, a description);
    `may_lack`: fields the schema lets be absent although the type requires them."""
    if not is_typeddict(shape):
        raise TypeError(f"{shape!r} is not a TypedDict")
    hints = get_type_hints(shape, include_extras=True)
    unknown = (set(more or {}) | set(may_lack)) - set(hints)
    if unknown:
        raise ValueError(f"{shape!r} has no field {sorted(unknown)}")
    # mypy knows no __required_keys__ on a plain `type`.
    required_keys: frozenset[str] = getattr(shape, "__required_keys__")  # noqa: B009
    properties = {
        field: field_schema(_unwrapped(hint), names, (more or {}).get(field)) for field, hint in hints.items()
    }
    required = [
        field for field, hint in hints.items() if _is_required(hint, field in required_keys) and field not in may_lack
    ]
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _is_required(hint: object, by_total: bool) -> bool:
    """Required[X] and NotRequired[X] say it; else the class's total does. (Python 3.11's __required_keys__ misses
    them when annotations are postponed, as in core/shapes.py.)"""
    origin = get_origin(hint)
    if origin is Required:
        return True
    if origin is NotRequired:
        return False
    return by_total


def _unwrapped(hint: object) -> object:
    """Required[X] and NotRequired[X] are X to the schema of the value."""
    if get_origin(hint) in (Required, NotRequired):
        return get_args(hint)[0]
    return hint
