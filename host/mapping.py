"""The datamapper: value maps, field templates and transforms of a flow's `[mapping]` table.

    [flows.webshop-orders.mapping]
    payment_method = { shopify_payments = "IDEAL", "*" = "OTHER" }
    tax_code_by_country = { NL = "1", "*" = "0" }
    cost_centre = "100"                       # a fixed value, or a map by country
    fields = { reference = "{number}", "extra.channel" = "web", "native.OrNu" = "{number}" }
    transforms = ["mypackage.transforms:fix_vat", "strip_phone"]

Value maps translate one field; `"*"` is the default, and a value with no entry and no
default fails that record naming the field. Per-country maps read the delivery country
(shipping address, else billing address, else the customer's) and put their result in
`extra` ("tax_code", "revenue_account", "cost_centre", "cost_unit"), where connectors
read them. Field templates set a field from text with `{path}` placeholders over the
record (`{customer.email}`, `{extra.x}`, `{native.Y}`). Transforms are functions
`record -> record`, named "module:function" or by an `ihost.transforms` entry point.
The mapper is compiled when the config loads, so a typo is a configuration error.
"""

from __future__ import annotations

import importlib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from host.errors import RecordInvalid
from host.models import Customer, Order, validation_problems

Transform = Callable[[Any], Any]

#: value maps of one field, per entity: mapping key -> (field on the record, where it applies)
VALUE_MAPS: dict[str, dict[str, str]] = {
    "orders": {
        "payment_method": "payment_method",
        "payment_terms": "payment_terms",
        "shipping_method": "shipping_lines.method",
        "customer_group": "customer.group",
    },
    "customers": {"customer_group": "group", "payment_terms": "extra.payment_terms"},
}
#: maps by delivery country (or a fixed value) whose result goes to extra[...]
COUNTRY_MAPS = {
    "tax_code_by_country": "tax_code",
    "revenue_account_by_country": "revenue_account",
    "cost_centre": "cost_centre",
    "cost_unit": "cost_unit",
}
COUNTRY_MAP_ENTITIES = ("orders", "customers")
COMMON_KEYS = ("fields", "transforms")

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class MappingError(RecordInvalid):
    """A record could not be mapped; names the field."""


def allowed_keys(entity: str) -> list[str]:
    """The `[mapping]` keys a flow of `entity` accepts."""
    keys = list(VALUE_MAPS.get(entity, {}))
    if entity in COUNTRY_MAP_ENTITIES:
        keys += list(COUNTRY_MAPS)
    return sorted([*keys, *COMMON_KEYS])


def lookup(record: Any, path: str) -> Any:
    """The value at a dotted path: attributes, dict keys, `extra.x` and `native.Y`."""
    if path.startswith("native."):
        return record.extra.get(path)
    current = record
    for part in path.split("."):
        if current is None:
            return None
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit():
            current = current[int(part)] if int(part) < len(current) else None
        elif hasattr(current, part):
            current = getattr(current, part)
        else:
            raise KeyError(path)
    return current


def _map_value(table: Mapping[str, Any], value: Any, key: str) -> Any:
    if value is not None and str(value) in table:
        return table[str(value)]
    if "*" in table:
        return table["*"]
    shown = "no value" if value is None else f"{value!r}"
    raise MappingError(f"{key}: no mapping for {shown} and no '*' default", field=key)


def delivery_country(record: Any) -> str | None:
    """The country a record's tax and revenue follow: delivery, billing, the customer's."""
    customers = [record] if isinstance(record, Customer) else []
    if isinstance(record, Order):
        for address in (record.shipping_address, record.billing_address):
            if address is not None and address.country:
                return address.country
        customers = [record.customer] if record.customer else []
    for customer in customers:
        for address in (customer.shipping_address, customer.billing_address):
            if address is not None and address.country:
                return address.country
    return None


@dataclass
class _Template:
    target: str
    text: str
    paths: list[str]

    def render(self, record: Any) -> str:
        values = {}
        for path in self.paths:
            try:
                value = lookup(record, path)
            except KeyError:
                raise MappingError(
                    f"fields.{self.target}: the record has no {path!r}", field=self.target
                ) from None
            values[path] = "" if value is None else str(value)
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text)


@dataclass
class Mapper:
    """A compiled `[mapping]` table for one flow."""

    entity: str
    value_maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    country_maps: dict[str, Any] = field(default_factory=dict)
    templates: list[_Template] = field(default_factory=list)
    transforms: list[tuple[str, Transform]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.value_maps or self.country_maps or self.templates or self.transforms)

    def apply(self, record: Any) -> Any:
        """The mapped copy of `record`; raises MappingError naming the field."""
        if self.empty:
            return record
        data = record.model_dump()
        extra = data.setdefault("extra", {})
        for key, table in self.value_maps.items():
            self._apply_value_map(data, VALUE_MAPS[self.entity][key], table, key)
        if self.country_maps:
            country = delivery_country(record)
            for key, table in self.country_maps.items():
                extra[COUNTRY_MAPS[key]] = (
                    table if isinstance(table, str) else _map_value(table, country, key)
                )
        for template in self.templates:
            _assign(data, template.target, template.render(record))
        try:
            mapped = type(record).model_validate(data)
        except ValidationError as exc:
            problem = validation_problems(exc)[0]
            raise MappingError(f"mapping made the record invalid: {problem}") from None
        for name, transform in self.transforms:
            try:
                result = transform(mapped)
            except Exception as exc:
                raise MappingError(
                    f"transform {name} failed: {type(exc).__name__}: {exc}", field=name
                ) from None
            if not isinstance(result, BaseModel):
                raise MappingError(
                    f"transform {name} returned {type(result).__name__}, not a record"
                )
            mapped = result
        return mapped

    def _apply_value_map(
        self, data: dict[str, Any], path: str, table: dict[str, Any], key: str
    ) -> None:
        head, _, rest = path.partition(".")
        if not rest:
            data[head] = _map_value(table, data.get(head), key)
        elif head == "extra":
            data["extra"][rest] = _map_value(table, data["extra"].get(rest), key)
        elif isinstance(data.get(head), list):
            for item in data[head]:
                item[rest] = _map_value(table, item.get(rest), key)
        elif isinstance(data.get(head), dict):
            data[head][rest] = _map_value(table, data[head].get(rest), key)


def _assign(data: dict[str, Any], target: str, value: str) -> None:
    if target.startswith("native."):
        data["extra"][target] = value
        return
    parts = target.split(".")
    current = data
    for part in parts[:-1]:
        if current.get(part) is None:
            current[part] = {}
        current = current[part]
    current[parts[-1]] = value


def compile_mapping(
    entity: str,
    table: Mapping[str, Any],
    record_type: type[BaseModel],
    transform_registry: Callable[[], dict[str, Transform]],
) -> tuple[Mapper, list[tuple[str, str]]]:
    """Compile a `[mapping]` table; returns the mapper and (key, problem) pairs."""
    mapper = Mapper(entity)
    problems: list[tuple[str, str]] = []
    allowed = allowed_keys(entity)
    for key, value in table.items():
        if key not in allowed:
            problems.append(
                (key, f"unknown mapping for {entity} flows; allowed: {', '.join(allowed)}")
            )
        elif key in VALUE_MAPS.get(entity, {}):
            if _is_value_map(value):
                mapper.value_maps[key] = {str(k): v for k, v in value.items()}
            else:
                problems.append(
                    (key, 'must be a table of values, e.g. { paypal = "PP", "*" = "OTHER" }')
                )
        elif key in COUNTRY_MAPS:
            if isinstance(value, str) or _is_value_map(value):
                mapper.country_maps[key] = value
            else:
                problems.append(
                    (key, 'must be a value or a table by country, e.g. { NL = "1", "*" = "0" }')
                )
        elif key == "fields":
            problems += _compile_fields(mapper, value, record_type)
        elif key == "transforms":
            problems += _compile_transforms(mapper, value, transform_registry)
    return mapper, problems


def _is_value_map(value: Any) -> bool:
    return isinstance(value, dict) and all(not isinstance(v, (dict, list)) for v in value.values())


def _compile_fields(
    mapper: Mapper, value: Any, record_type: type[BaseModel]
) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return [("fields", 'must be a table, e.g. { reference = "{number}" }')]
    problems = []
    for target, text in value.items():
        key = f"fields.{target}"
        head = target.split(".")[0]
        if head not in record_type.model_fields and head != "native":
            problems.append((key, f"{record_type.__name__} has no field {head!r}"))
            continue
        if not isinstance(text, str):
            problems.append((key, "must be a text (use {path} to insert values)"))
            continue
        try:
            paths = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            problems.append((key, f"bad template: {exc}"))
            continue
        mapper.templates.append(_Template(target, text, paths))
    return problems


def _compile_transforms(
    mapper: Mapper, value: Any, registry: Callable[[], dict[str, Transform]]
) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [("transforms", 'must be a list such as ["package.module:function"]')]
    problems = []
    for name in value:
        try:
            mapper.transforms.append((name, resolve_transform(name, registry)))
        except LookupError as exc:
            problems.append(("transforms", str(exc)))
    return problems


def resolve_transform(name: str, registry: Callable[[], dict[str, Transform]]) -> Transform:
    """A transform by "module:function", or by its name in the `ihost.transforms` group."""
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            function = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise LookupError(f"cannot load transform {name!r}: {exc}") from None
    else:
        function = registry().get(name)
        if function is None:
            known = ", ".join(sorted(registry())) or "none installed"
            raise LookupError(f"no transform named {name!r} (ihost.transforms: {known})")
    if not callable(function):
        raise LookupError(f"transform {name!r} is not a function")
    return function
