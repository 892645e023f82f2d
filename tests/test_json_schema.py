"""describe/json_schema.py: the JSON Schema of a TypedDict, as both API documents use it for core/shapes.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Required, TypedDict, is_typeddict

import pytest

import core.shapes
from core.shapes import Id, JSONSchema, Money, Timestamp
from describe.json_schema import object_schema
from describe.shapes import NAMES


class Inner(TypedDict):
    id: Id


class Sample(TypedDict):
    id: Id
    at: Timestamp | None
    price: Money
    count: int
    ratio: float
    done: bool
    kind: Literal["a", "b"]
    tags: list[str]
    totals: dict[str, int]
    inner: Inner | None
    inners: list[Inner]
    anything: Any
    either: int | str
    noted: Annotated[str, JSONSchema(description="a note")]
    later: NotRequired[str]


class Partial(TypedDict, total=False):
    maybe: int
    surely: Required[str]


def test_every_kind_of_field_becomes_its_schema():
    schema = object_schema(Sample, {Inner: "Inner"})
    properties = schema["properties"]
    assert properties["id"] == {"type": "string", "format": "uuid"}
    assert properties["at"] == {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601 UTC"}
    assert properties["price"]["pattern"] == r"^-?[0-9]+\.[0-9]{2}$"
    assert (properties["count"], properties["ratio"], properties["done"]) == (
        {"type": "integer"},
        {"type": "number"},
        {"type": "boolean"},
    )
    assert properties["kind"] == {"type": "string", "enum": ["a", "b"]}
    assert properties["tags"] == {"type": "array", "items": {"type": "string"}}
    assert properties["totals"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert properties["inner"] == {"anyOf": [{"$ref": "#/components/schemas/Inner"}, {"type": "null"}]}
    assert properties["inners"] == {"type": "array", "items": {"$ref": "#/components/schemas/Inner"}}
    assert properties["anything"] == {}
    assert properties["either"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert properties["noted"] == {"type": "string", "description": "a note"}
    assert properties["later"] == {"type": "string"}
    assert schema["additionalProperties"] is False
    assert schema["required"] == [name for name in Sample.__annotations__ if name != "later"]


def test_total_false_and_required():
    assert object_schema(Partial, {})["required"] == ["surely"]


def test_more_goes_over_the_type_and_may_lack_unrequires():
    schema = object_schema(
        Sample, {Inner: "Inner"}, {"at": {"description": "when"}, "count": {"minimum": 1}}, may_lack=("count",)
    )
    assert schema["properties"]["at"] == {"type": ["string", "null"], "format": "date-time", "description": "when"}
    assert schema["properties"]["count"] == {"type": "integer", "minimum": 1}
    assert "count" not in schema["required"] and "id" in schema["required"]


def test_a_field_that_is_not_there_is_refused():
    with pytest.raises(ValueError, match="no field"):
        object_schema(Inner, {}, {"gone": {"minimum": 1}})
    with pytest.raises(ValueError, match="no field"):
        object_schema(Inner, {}, may_lack=("gone",))


def test_a_nested_typeddict_must_be_a_component():
    with pytest.raises(ValueError, match="no component"):
        object_schema(Sample, {})


def test_every_api_object_of_core_shapes_is_described():
    api_objects = {
        value
        for name, value in vars(core.shapes).items()
        if is_typeddict(value) and (name.endswith("JSON") or name == "OrderPage")
    }
    assert api_objects - set(NAMES) == set(), "a TypedDict of core/shapes.py with no Component in describe/shapes.py"
