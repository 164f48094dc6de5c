"""What the AFAS sandbox knows of AFAS Profit's connectors, from two sources.

The project's own description, always (`connectors.json`, written for ihost from the facts
of api/afas.md and AFAS's documentation: connector and field ids, data types, maximum
lengths, the fields a POST must carry): the UpdateConnectors and GetConnectors the sandbox
serves. Bodies are checked against it as AFAS reads them (numbers and booleans may come as
strings, an Element or Objects as one item or a list); a field, object or sub-object it
does not describe is refused as not emulated. A GetConnector row is checked and completed
against it (`GetConnector.row`).

AFAS's OpenAPI files, read in place when they are there (DESIGN §9; found through
`host.sandbox.specs_dir`): a second validator. The schemas are stricter than AFAS itself
(api/afas.md, appendix), so a body is first put in the form the schemas describe: a single
object where an array is listed becomes a one-item array, "0"/"1" and numeric strings
become booleans and numbers, `@Key` attributes and `@Action` are set aside. Of the
`required` lists, only the fields that AFAS's own minimal examples carry are required.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator

from host.sandbox import NOT_EMULATED, specs_dir

SPEC_FILES = (
    "sales-and-orders.json",
    "organisations-and-persons.json",
    "articles.json",
    "warehouse.json",
    "journal-entries.json",
)
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"  # how AFAS writes a moment: local time, with a fake Z
_TRUE, _FALSE = ("1", "true"), ("0", "false")


# --- the project's description ----------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of an UpdateConnector object or of a GetConnector row."""

    id: str
    type: str  # string, date, int, decimal or boolean
    label: str
    length: int | None = None
    mandatory: bool = False  # a POST must carry it
    values: tuple[str, ...] = ()  # the values it takes, when AFAS lists them
    default: Any = None  # what AFAS fills in a row that has no value ("now": the time)


@dataclass(frozen=True)
class UpdateObject:
    """An element of an UpdateConnector body: its fields and the objects nested in it."""

    name: str
    label: str
    fields: Mapping[str, Field]
    objects: Mapping[str, UpdateObject]


@dataclass(frozen=True)
class UpdateConnector:
    id: str
    methods: tuple[str, ...]
    key: str | None  # the field that names an existing record (PUT, sub-object POST)
    sub_objects: tuple[str, ...]  # POST /connectors/{id}/{sub}: records added to one
    root: UpdateObject  # the body's root element (FiEntries: FiEntryPar)


@dataclass(frozen=True)
class GetConnector:
    id: str
    label: str
    standard: bool  # shipped with AFAS (else the environment's own)
    key: tuple[str, ...]
    fields: Mapping[str, Field]

    def row(
        self, values: Mapping[str, Any], now: datetime, *, coerce: bool = False
    ) -> dict[str, Any]:
        """`values` as AFAS serves a row: every field, in its JSON type, with what AFAS
        fills in where a value is missing. ValueError, naming the GetConnector and the
        field, for what AFAS could not hold: an unknown field, a wrong type, a value too
        long, no key. `coerce` reads values as an UpdateConnector body gives them
        (numbers as strings)."""
        unknown = sorted(set(values) - set(self.fields))
        if unknown:
            raise ValueError(
                f"{self.id}: no field {unknown[0]!r} (it has {', '.join(self.fields)})"
            )
        row = {}
        for field in self.fields.values():
            value = values.get(field.id)
            if value is None and field.default is not None:
                value = now.strftime(TIMESTAMP) if field.default == "now" else field.default
            try:
                row[field.id] = _native(field, value, coerce)
            except ValueError as exc:
                raise ValueError(f"{self.id}.{field.id}: {exc}") from None
        missing = [k for k in self.key if row[k] in (None, "")]
        if missing:
            raise ValueError(f"{self.id}.{missing[0]}: a row needs its key ({', '.join(self.key)})")
        return row


def _field(field_id: str, raw: Mapping[str, Any]) -> Field:
    return Field(
        id=field_id,
        type=raw["type"],
        label=raw["label"],
        length=raw.get("length"),
        mandatory=raw.get("mandatory", False),
        values=tuple(raw.get("values", ())),
        default=raw.get("default"),
    )


def _object(name: str, raw: Mapping[str, Any]) -> UpdateObject:
    return UpdateObject(
        name=name,
        label=raw["label"],
        fields={k: _field(k, v) for k, v in raw["fields"].items()},
        objects={k: _object(k, v) for k, v in raw.get("objects", {}).items()},
    )


@functools.cache
def _described() -> tuple[dict[str, UpdateConnector], dict[str, GetConnector]]:
    text = resources.files("ihost_afas").joinpath("connectors.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    updates = {
        name: UpdateConnector(
            id=name,
            methods=tuple(c["methods"]),
            key=c["key"],
            sub_objects=tuple(c["subObjects"]),
            root=_object(c["root"], c["element"]),
        )
        for name, c in raw["updateConnectors"].items()
    }
    gets = {
        name: GetConnector(
            id=name,
            label=c["label"],
            standard=c["standard"],
            key=tuple(c["key"]),
            fields={k: _field(k, v) for k, v in c["fields"].items()},
        )
        for name, c in raw["getConnectors"].items()
    }
    return updates, gets


def update_connectors() -> dict[str, UpdateConnector]:
    """The UpdateConnectors the sandbox serves, by id."""
    return _described()[0]


def get_connectors() -> dict[str, GetConnector]:
    """The GetConnectors the sandbox serves, by id."""
    return _described()[1]


def update_connector(name: str) -> UpdateConnector | None:
    """The UpdateConnector called `name` (AFAS reads the URL without case), or None."""
    return next((c for k, c in update_connectors().items() if k.lower() == name.lower()), None)


def get_connector(name: str) -> GetConnector | None:
    """The GetConnector called `name` (without case), or None."""
    return next((c for k, c in get_connectors().items() if k.lower() == name.lower()), None)


# --- values -------------------------------------------------------------------------------


def parse_moment(text: str) -> datetime:
    """An AFAS date or time ("2026-05-01", "2026-05-01T10:00:00", with AFAS's fake "Z" or
    not) as a naive local datetime; ValueError for anything else (an offset included:
    AFAS writes local time)."""
    moment = datetime.fromisoformat(text[:-1] if text.endswith("Z") else text)
    if moment.tzinfo is not None:
        raise ValueError(f"{text!r} has a UTC offset; AFAS times are local, without one")
    return moment


def number(value: Any) -> Decimal:
    """A number as AFAS reads it from a body (a JSON number or a numeric string)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not found.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return found


def flag(value: Any) -> bool:
    """A boolean as AFAS reads it from a body: true/false, 1/0, or those as strings."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{value!r} is not a boolean")


def _native(field: Field, value: Any, coerce: bool) -> Any:
    """`value` in the JSON type a GetConnector gives `field`; strictly that type unless
    `coerce` (then "" is empty, as a body's "" clears a field). ValueError says what is
    wrong."""
    if value is None or (coerce and value == ""):
        return None
    kind = field.type
    if kind == "string":
        if not isinstance(value, str) and not (coerce and not isinstance(value, bool)):
            raise ValueError(f"{value!r} is not a string")
        text = str(value)
        if field.length is not None and len(text) > field.length:
            raise ValueError(f"{text!r} is longer than {field.length} characters")
        return text
    if kind == "date":
        if isinstance(value, (date, datetime)):
            moment = value if isinstance(value, datetime) else datetime(*value.timetuple()[:3])
        elif isinstance(value, str):
            moment = parse_moment(value)
        else:
            raise ValueError(f"{value!r} is not a date")
        return moment.strftime(TIMESTAMP)
    if kind == "boolean":
        if not isinstance(value, bool) and not coerce:
            raise ValueError(f"{value!r} is not a boolean")
        return flag(value)
    strict_number = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if not strict_number and not coerce:
        raise ValueError(f"{value!r} is not a number")
    found = number(value)
    if kind == "int":
        if found != found.to_integral_value():
            raise ValueError(f"{value!r} is not a whole number")
        return int(found)
    return int(found) if isinstance(value, int) else float(found)


def _value_problem(field: Field, value: Any) -> str | None:
    """What AFAS would refuse in `value` for `field` of an UpdateConnector body, or None."""
    if value is None or value == "":
        return None  # an empty field
    if isinstance(value, (dict, list)):
        return f"{value!r} is not a value"
    try:
        if field.type == "boolean":
            flag(value)
        elif field.type in ("int", "decimal"):
            found = number(value)
            if field.type == "int" and found != found.to_integral_value():
                return f"{value!r} is not a whole number"
        elif field.type == "date":
            parse_moment(str(value))
        elif isinstance(value, bool):
            return f"{value!r} is not a string"
    except ValueError as exc:
        return str(exc)
    text = str(value)
    if field.length is not None and len(text) > field.length:
        return f"{text!r} is too long (at most {field.length} characters)"
    if field.values and text not in field.values:
        return f"{text!r} is not one of {list(field.values)}"
    return None


# --- UpdateConnector bodies against the description -------------------------------------


def as_list(value: Any) -> list[Any]:
    """One item or a list of them, as a list (AFAS takes Element and Objects both ways)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def children(element: Mapping[str, Any]) -> Iterator[tuple[int, str, Any]]:
    """(holder index, object name, object) of an element's Objects, whether Objects is an
    object or a list of single-key objects."""
    for index, holder in enumerate(as_list(element.get("Objects"))):
        if isinstance(holder, dict):
            for name, value in holder.items():
                yield index, name, value
        else:
            yield index, "", holder


def element_values(element: Mapping[str, Any]) -> dict[str, Any]:
    """An element's field values: its `@Key` attributes and its Fields."""
    found = {k[1:]: v for k, v in element.items() if k.startswith("@")}
    raw = element.get("Fields")
    if isinstance(raw, dict):
        found.update(raw)
    return found


def _element_problems(shape: UpdateObject, element: Any, where: str, mandatory: bool) -> list[str]:
    """What is wrong with one element of `shape`, its nested objects included."""
    if not isinstance(element, dict):
        return [f"{where}: an element is an object with Fields (and Objects), not {element!r}"]
    problems = []
    for key in element:
        if key not in ("Fields", "Objects") and not key.startswith("@"):
            problems.append(f"{where}.{key}: an element holds only Fields, Objects and @keys")
    fields = element.get("Fields", {})
    if not isinstance(fields, dict):
        problems.append(f"{where}.Fields: {fields!r} is not an object of field values")
        fields = {}
    given = {k[1:]: (v, f"{where}.{k}") for k, v in element.items() if k.startswith("@")}
    given.update({k: (v, f"{where}.Fields.{k}") for k, v in fields.items()})
    for field_id, (value, at) in given.items():
        field = shape.fields.get(field_id)
        if field_id == "Action":
            problems.append(f"{at}: @Action (insert/update/delete per element) is {NOT_EMULATED}")
        elif field is None:
            problems.append(f"{at}: {shape.name} has no field {field_id!r} that is {NOT_EMULATED}")
        elif (problem := _value_problem(field, value)) is not None:
            problems.append(f"{at}: {problem}")
    if mandatory:
        for field in shape.fields.values():
            if field.mandatory and given.get(field.id, (None,))[0] in (None, ""):
                problems.append(f"{where}.Fields: {field.id!r} ({field.label}) is mandatory")
    for index, name, value in children(element):
        nested = shape.objects.get(name)
        at = f"{where}.Objects.{index}.{name}"
        if nested is None:
            problems.append(f"{at}: object {name!r} in {shape.name} is {NOT_EMULATED}")
        elif not isinstance(value, dict) or "Element" not in value:
            problems.append(f"{at}: an object is {{'Element': ...}}, not {value!r}")
        else:
            for number_, item in enumerate(as_list(value["Element"])):
                at_item = f"{at}.Element.{number_}"
                problems += _element_problems(nested, item, at_item, mandatory)
    return problems


def described_problems(
    connector: str, method: str, body: Any, sub: str | None = None
) -> list[str] | None:
    """What is wrong with `body` for `method` on `connector` (POST `connector/sub` when
    `sub` is given) by the project's description, naming the field; None when the sandbox
    does not serve that UpdateConnector. A POST must carry the mandatory fields; a PUT, and
    the header of a sub-object POST, only the connector's key."""
    found = update_connector(connector)
    if found is None:
        return None
    root = found.root
    if not isinstance(body, dict) or list(body) != [root.name]:
        given = ", ".join(map(repr, body)) if isinstance(body, dict) and body else "none"
        return [
            f"(body): UpdateConnector {found.id} takes the root element {root.name!r} "
            f"({{{root.name!r}: {{'Element': ...}}}}), not {given}"
        ]
    if method.upper() not in found.methods:
        return [f"(method): {found.id} takes {' and '.join(found.methods)}, not {method.upper()}"]
    if sub is not None and sub not in found.sub_objects:
        return [f"(path): POST {found.id}/{sub} is {NOT_EMULATED}"]
    container = body[root.name]
    if not isinstance(container, dict) or not as_list(container.get("Element")):
        return [f"{root.name}: the root holds its records as {{'Element': ...}}"]
    whole_post = method.upper() == "POST" and sub is None
    records = container["Element"]
    problems = []
    for index, item in enumerate(as_list(records)):
        where = f"{root.name}.Element" + (f".{index}" if isinstance(records, list) else "")
        problems += _element_problems(root, item, where, mandatory=whole_post)
        if whole_post or not isinstance(item, dict) or found.key is None:
            continue
        if element_values(item).get(found.key) in (None, ""):
            problems.append(f"{where}.Fields: {found.key!r} is mandatory: it names the record")
        if sub is not None:
            problems += [
                f"{where}.Objects.{i}.{name}: POST {found.id}/{sub} adds {sub} only"
                for i, name, _ in children(item)
                if name != sub
            ]
            problems += _sub_mandatory(root.objects[sub], item, where, sub)
    return problems


def _sub_mandatory(
    shape: UpdateObject, header: Mapping[str, Any], where: str, sub: str
) -> list[str]:
    """The mandatory fields the records of a sub-object POST lack (they are inserted)."""
    problems = []
    for index, name, value in children(header):
        if name == sub and isinstance(value, dict):
            for number_, item in enumerate(as_list(value.get("Element"))):
                at = f"{where}.Objects.{index}.{name}.Element.{number_}"
                given = element_values(item) if isinstance(item, dict) else {}
                problems += [
                    f"{at}.Fields: {f.id!r} ({f.label}) is mandatory"
                    for f in shape.fields.values()
                    if f.mandatory and given.get(f.id) in (None, "")
                ]
    return problems


# --- AFAS's OpenAPI files -----------------------------------------------------------------


@functools.cache
def vendor() -> dict[str, Any] | None:
    """AFAS's OpenAPI files merged: {"schemas": ..., "paths": ...}; None when absent."""
    directory = specs_dir()
    if directory is None or not (directory / "afas").is_dir():
        return None
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for name in SPEC_FILES:
        text = (directory / "afas" / name).read_text(encoding="utf-8")
        document = json.loads(text, parse_float=Decimal)  # exact multipleOf checks
        schemas.update(document.get("components", {}).get("schemas", {}))
        paths.update(document.get("paths", {}))
    return {"schemas": schemas, "paths": paths}


def forget_vendor() -> None:
    """Look for the OpenAPI files again on next use (after $IHOST_SPECS_DIR changed)."""
    vendor.cache_clear()
    _validator.cache_clear()


def examples(connector: str, method: str = "post") -> dict[str, Any]:
    """AFAS's worked examples for a connector, by name ({} without the files)."""
    specs = vendor() or {"paths": {}}
    operation = specs["paths"].get(f"/connectors/{connector}", {}).get(method, {})
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    return {name: example.get("value") for name, example in content.get("examples", {}).items()}


def normalise(value: Any, schema: dict[str, Any] | None) -> Any:
    """`value` in the form `schema` describes, as AFAS reads it."""
    if not schema:
        return value
    kind = schema.get("type")
    if kind == "array":
        items = value if isinstance(value, list) else [value]
        return [normalise(item, schema.get("items")) for item in items]
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        return {
            k: normalise(v, properties.get(k))
            for k, v in value.items()
            if not k.startswith("@") and v is not None  # null is an empty field
        }
    if (
        kind == "boolean"
        and isinstance(value, str)
        and value.lower() in ("0", "1", "true", "false")
    ):
        return value.lower() in ("1", "true")
    if kind in ("number", "integer") and isinstance(value, (str, float)):
        try:  # Decimal, so that multipleOf: 0.00001 holds for 10.0
            number = Decimal(str(value))
        except InvalidOperation:
            return value
        return int(number) if kind == "integer" and number == number.to_integral_value() else number
    if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def fields_present(body: Any, found: set[tuple[str, ...]], path: tuple[str, ...] = ()) -> None:
    """Collect (object path..., field) for every field a body carries."""
    if isinstance(body, list):
        for item in body:
            fields_present(item, found, path)
    elif isinstance(body, dict):
        for key, value in body.items():
            if key == "Fields" and isinstance(value, dict):
                found.update((*path, field) for field in value)
            elif key in ("Element", "Objects"):
                fields_present(value, found, path)
            elif not key.startswith("@"):
                fields_present(value, found, (*path, key))


def minimal_fields(connector: str, method: str) -> set[tuple[str, ...]]:
    """(object path..., field) that every one of AFAS's minimal examples carries: of a
    schema's `required` lists, these are what AFAS really requires (api/afas.md, appendix)."""
    carried = []
    for title, example in examples(connector, method.lower()).items():
        if "minim" in title.lower() and example:
            fields: set[tuple[str, ...]] = set()
            fields_present(example, fields)
            carried.append(fields)
    return set.intersection(*carried) if carried else set()


def _relax_required(schema: Any, minimal: set[tuple[str, ...]], path: tuple[str, ...] = ()) -> None:
    """Keep in each `required` list only the fields the minimal example carries."""
    if isinstance(schema, dict):
        properties = schema.get("properties", {})
        if "required" in schema:
            kept = [f for f in schema["required"] if (*path, f) in minimal]
            if kept:
                schema["required"] = kept
            else:
                del schema["required"]
        for key, sub in properties.items():
            deeper = path if key in ("Element", "Objects", "Fields") else (*path, key)
            _relax_required(sub, minimal, deeper)
        if "items" in schema:
            _relax_required(schema["items"], minimal, path)


@functools.cache
def _validator(
    connector: str, method: str, sub: bool
) -> tuple[Draft7Validator, dict[str, Any]] | None:
    specs = vendor()
    name = f"{connector}_{method.upper()}"
    if specs is None or name not in specs["schemas"]:
        return None
    schema = copy.deepcopy(specs["schemas"][name])
    _relax_required(schema, minimal_fields(connector, method))
    if sub:  # the header only names the record the sub-objects are added to
        for root in schema.get("properties", {}).values():
            element = root.get("properties", {}).get("Element", {})
            element.get("items", element).get("properties", {}).get("Fields", {}).pop(
                "required", None
            )
    return Draft7Validator(schema), schema


def vendor_problems(
    connector: str, method: str, body: Any, sub: str | None = None
) -> list[str] | None:
    """What is wrong with `body` for `method` on `connector` by AFAS's OpenAPI files,
    naming the field; None when they have no schema for it (or are not there)."""
    found = _validator(connector, method.upper(), sub is not None)
    if found is None:
        return None
    validator, schema = found
    root = update_connector(connector)
    root_name = root.root.name if root else connector
    element = body.get(root_name, {}).get("Element") if isinstance(body, dict) else None
    # several records in one call: the root Element as an array, each validated alone
    documents = (
        [{root_name: {"Element": item}} for item in element]
        if isinstance(element, list)
        else [body]
    )
    lines = []
    for document in documents:
        normalised = normalise(document, schema)
        errors = sorted(validator.iter_errors(normalised), key=lambda e: list(e.absolute_path))
        for error in errors:
            where = ".".join(str(part) for part in error.absolute_path) or "(body)"
            lines.append(f"{where}: {error.message}")
    return lines


def problems(connector: str, method: str, body: Any, sub: str | None = None) -> list[str] | None:
    """What is wrong with `body`: by the project's description, then, when that finds
    nothing and AFAS's OpenAPI files are there, by those. None when the sandbox does not
    serve `connector`."""
    ours = described_problems(connector, method, body, sub)
    theirs = vendor_problems(connector, method, body, sub)  # built now: a warm-up builds it
    if ours is None:
        return None
    return ours or theirs or []
