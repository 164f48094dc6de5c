"""AFAS Profit's OpenAPI files, read in place (DESIGN §9), as a validator of request bodies.

The schemas are stricter than AFAS itself (api/afas.md, appendix), so a body is first
put in the form the schemas describe, the way AFAS reads it: a single object where an
array is listed becomes a one-item array, "0"/"1" and numeric strings become booleans and
numbers, `@Key` attributes and `@Action` are set aside. Of the `required` lists, only the
fields that AFAS's own minimal example for the connector carries are required.
"""

from __future__ import annotations

import copy
import functools
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft7Validator

from host.sandbox import specs_dir

SPEC_FILES = (
    "sales-and-orders.json",
    "organisations-and-persons.json",
    "articles.json",
    "warehouse.json",
    "journal-entries.json",
)
ROOT_ELEMENT = {"FiEntries": "FiEntryPar"}  # the one connector whose root is not its name


@functools.cache
def _specs() -> dict[str, Any] | None:
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


def available() -> bool:
    return _specs() is not None


def connectors() -> set[str]:
    """The UpdateConnectors the spec files describe."""
    specs = _specs() or {"schemas": {}}
    return {name.rsplit("_", 1)[0] for name in specs["schemas"]}


def examples(connector: str, method: str = "post") -> dict[str, Any]:
    """AFAS's worked examples for a connector, by name."""
    specs = _specs() or {"paths": {}}
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


def _fields_present(body: Any, found: set[tuple[str, ...]], path: tuple[str, ...] = ()) -> None:
    """Collect (object path..., field) for every field a body carries."""
    if isinstance(body, list):
        for item in body:
            _fields_present(item, found, path)
    elif isinstance(body, dict):
        for key, value in body.items():
            if key == "Fields" and isinstance(value, dict):
                found.update((*path, field) for field in value)
            elif key in ("Element", "Objects"):
                _fields_present(value, found, path)
            elif not key.startswith("@"):
                _fields_present(value, found, (*path, key))


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
def _validator(connector: str, method: str) -> tuple[Draft7Validator, dict[str, Any]] | None:
    specs = _specs()
    name = f"{connector}_{method.upper()}"
    if specs is None or name not in specs["schemas"]:
        return None
    schema = copy.deepcopy(specs["schemas"][name])
    carried = []
    for title, example in examples(connector, method.lower()).items():
        if "minim" in title.lower() and example:
            fields: set[tuple[str, ...]] = set()
            _fields_present(example, fields)
            carried.append(fields)
    # required: what every minimal example carries
    minimal = set.intersection(*carried) if carried else set()
    _relax_required(schema, minimal)
    return Draft7Validator(schema), schema


def problems(connector: str, method: str, body: Any) -> list[str] | None:
    """What is wrong with `body` for `method` on `connector`, naming the field; None when
    the spec has no schema for it (or the specs are not there)."""
    found = _validator(connector, method)
    if found is None:
        return None
    validator, schema = found
    root = ROOT_ELEMENT.get(connector, connector)
    element = body.get(root, {}).get("Element") if isinstance(body, dict) else None
    # several records in one call: the root Element as an array, each validated alone
    documents = (
        [{root: {"Element": item}} for item in element] if isinstance(element, list) else [body]
    )
    lines = []
    for document in documents:
        normalised = normalise(document, schema)
        errors = sorted(validator.iter_errors(normalised), key=lambda e: list(e.absolute_path))
        for error in errors:
            where = ".".join(str(part) for part in error.absolute_path) or "(body)"
            lines.append(f"{where}: {error.message}")
    return lines
