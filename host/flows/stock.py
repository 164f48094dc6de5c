"""Stock flow: the quantity each SKU should show in the target, pushed in batches (DESIGN §4).

A source may keep a SKU's stock at several locations (an ERP's warehouses); a target keeps
one level per SKU. The `locations` setting says how they meet: "sum" (the default) adds
every source location up; a list adds up only those; a table maps source locations to
the target's location (the others are left out). Each location's quantity follows
`stock_rule`, never below zero, before it is added.

The source's levels are taken in windows of a few hundred. A SKU's levels at its source
locations are kept in the store as they are read (entity "stock-locations", one binding a
SKU, the levels in its fingerprint: no personal data, never purged), so a run that reads
only what changed since the cursor still adds up every location, and a SKU whose
locations come in different windows is added up from what the window before kept. A
level without location, the only one of its SKU (most sources), goes through as it is.
Two levels of one SKU at one location in a run, and a fraction of a unit, are refused:
the SKU is dead-lettered naming the field and the values, and the other SKUs go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field, field_validator

from host.errors import RecordInvalid
from host.flows import Flow, FlowSettings, Unit
from host.flows.writes import Batches, WriteStrategy
from host.models import StockLevel
from host.retry import current_budget
from host.store import Binding

ZERO = Decimal(0)
#: source levels taken together: a SKU's levels in one window are added up before writing
WINDOW = 500
#: the bindings entity that keeps each SKU's levels per source location
LOCATIONS_ENTITY = "stock-locations"
#: its binding (key "": no SKU has it) that says every level has been read once
READ_ONCE = ""
#: the key a level without location is kept under
NO_LOCATION = ""

Rule = Literal["available_minus_reserved", "on_hand", "available"]
Parts = dict[str | None, "Part"]


class StockSettings(FlowSettings):
    stock_rule: Rule = Field(
        "available_minus_reserved",
        description="available (or on hand when the source gives no available) minus "
        "sales reservations; or on hand; or available",
    )
    manage_stock: bool = Field(True, description="whether the target tracks stock for these SKUs")
    locations: Literal["sum"] | list[str] | dict[str, str] = Field(
        "sum",
        description='how source locations become the target\'s: "sum" adds them all up; '
        "a list adds up only these; a table { source = target } maps them to the target's "
        "location (those not in it are left out)",
    )
    batch_size: int | None = Field(
        None, ge=1, description="levels per push; at most (and by default) the target's stock_batch"
    )

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "sum":
            raise ValueError(
                'must be "sum", a list of source locations, or a table { source = target }'
            )
        if isinstance(value, (list, dict)) and not value:
            raise ValueError('name at least one source location, or use "sum"')
        if isinstance(value, dict):
            targets = sorted({str(v) for v in value.values()})
            if len(targets) > 1:
                raise ValueError(
                    f"maps to {len(targets)} target locations ({', '.join(targets)}); a stock "
                    "target keeps one level per SKU (Shopify: at the connection's location_id), "
                    "so map every source location to one target location"
                )
        return value


@dataclass(frozen=True, slots=True)
class Part:
    """One source location's level of a SKU: what its sum is made of."""

    on_hand: Decimal
    reserved: Decimal
    available: Decimal | None

    @classmethod
    def of(cls, level: StockLevel) -> Part:
        return cls(level.on_hand, level.reserved, level.available)

    @classmethod
    def parse(cls, text: str) -> Part | None:
        """A kept level ("on_hand|reserved|available"), or None when it cannot be read."""
        try:
            on_hand, reserved, available = text.split("|")
            return cls(
                Decimal(on_hand), Decimal(reserved), Decimal(available) if available else None
            )
        except (ValueError, InvalidOperation):
            return None

    def text(self) -> str:
        values = (self.on_hand, self.reserved, self.available)
        return "|".join("" if v is None else _plain(v) for v in values)


def _plain(value: Decimal) -> str:
    """A Decimal as short plain text: 2.50 -> "2.5", 1E+2 -> "100"."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def quantity(level: StockLevel | Part, rule: str) -> Decimal:
    """What the target should show for `level` under `rule`, never below zero."""
    available = level.available if level.available is not None else level.on_hand
    if rule == "on_hand":
        value = level.on_hand
    elif rule == "available":
        value = available
    else:
        value = available - level.reserved
    return max(value, ZERO)


def rule_fields(level: StockLevel | Part, rule: str) -> tuple[str, ...]:
    """The fields of `level` that `rule` reads."""
    if rule == "on_hand":
        return ("on_hand",)
    base = "available" if level.available is not None else "on_hand"
    return (base,) if rule == "available" else (base, "reserved")


def parts_json(parts: Parts) -> str:
    """A SKU's levels per source location as kept: {"WH-A": "5|0|", ...} ("" no location)."""
    named = {NO_LOCATION if loc is None else loc: part.text() for loc, part in parts.items()}
    return json.dumps(named, sort_keys=True, separators=(",", ":"))


def parse_parts(text: str | None) -> Parts:
    """Kept levels per source location (unreadable ones left out)."""
    try:
        named = json.loads(text) if text else {}
    except ValueError:
        return {}
    parts: Parts = {}
    for location, value in named.items() if isinstance(named, dict) else ():
        part = Part.parse(value) if isinstance(value, str) else None
        if part is not None:
            parts[None if location == NO_LOCATION else location] = part
    return parts


def _where(location: str | None) -> str:
    return f"location {location}" if location is not None else "no location"


def _payload(levels: Iterable[StockLevel]) -> list[dict[str, Any]]:
    """The levels read of a refused SKU, for its dead letter."""
    return [level.model_dump(mode="json") for level in levels]


class StockFlow(Flow):
    kind = "stock"
    Settings = StockSettings

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._seen: set[str] = set()  # SKU (and location) of every level read this run
        self._refused: set[str] = set()  # SKUs read twice at a location: not kept
        self._dead: set[str] = set()  # of those, the ones dead-lettered already
        self._unseen: dict[str, set[str | None]] = {}  # full read: kept locations not read
        self._dry_kept: dict[str, Parts] = {}  # what a dry run would have kept
        self._skips: dict[str, str] = {}
        self._none_taken: bool | None = None  # whether levels without location are taken

    # --- reading ---------------------------------------------------------------------------

    def read(self, since: datetime | None) -> Iterator[Any]:
        """One level per SKU and window, its locations added up. A flow that never read all
        its levels (the first run, or the first since levels are kept per location) reads
        them all."""
        full = since is None or self._kept([READ_ONCE]).get(READ_ONCE) is None
        levels = self.ctx.source.hook.fetch_stock(since=None if full else since)
        return self._read(levels, full)

    def _read(self, levels: Iterable[Any], full: bool) -> Iterator[Any]:
        budget = current_budget()
        window: list[StockLevel] = []
        for level in levels:
            if budget is not None:
                budget.renew()  # reading spends one retry budget per record, as in the runner
            if isinstance(level, RecordInvalid):
                yield level
                continue
            window.append(level)
            if len(window) >= WINDOW:
                yield from self._window(window, full)
                window = []
        yield from self._window(window, full)
        if full:
            yield from self._forget_unseen()
        self._keep({READ_ONCE: {}})

    def _window(self, levels: list[StockLevel], full: bool) -> Iterator[Any]:
        """The window's levels, one a SKU: duplicates refused, locations added up.

        The hot loop of a stock run: lookups are hoisted into locals on purpose."""
        groups: dict[str, list[StockLevel]] = {}
        seen, refused = self._seen, self._refused
        for level in levels:
            sku, location = level.sku, level.location
            mark = sku if location is None else f"{sku}\x00{location}"
            if mark in seen:
                refused.add(sku)
            else:
                seen.add(mark)
            group = groups.get(sku)
            if group is None:
                groups[sku] = [level]
            else:
                group.append(level)
        located = [sku for sku, g in groups.items() if len(g) > 1 or g[0].location is not None]
        kept = self._kept(located) if located else {}
        single = self._single
        changed: dict[str, Parts] = {}
        for sku, group in groups.items():
            if sku in refused:
                if sku not in self._dead:  # one dead letter a SKU and run
                    self._dead.add(sku)
                    yield self._duplicates(sku, group)
            elif len(group) == 1 and group[0].location is None and sku not in kept:
                yield single(group[0])
            else:
                parts = self._parts(sku, group, kept.get(sku), full)
                if parts != kept.get(sku):
                    changed[sku] = parts
                yield self.combine(sku, parts, group)
        if changed:
            self._keep(changed)

    def _parts(self, sku: str, group: list[StockLevel], kept: Parts | None, full: bool) -> Parts:
        """The SKU's levels per location: what was kept, updated by what this window read;
        on a full read, the kept locations not read (yet) are noted, to forget at the end."""
        parts = dict(kept or {})
        read = {level.location: Part.of(level) for level in group}
        parts.update(read)
        if full:
            unseen = self._unseen.get(sku, set(kept or {})) - set(read)
            if unseen:
                self._unseen[sku] = unseen
            else:
                self._unseen.pop(sku, None)
        return parts

    def _forget_unseen(self) -> Iterator[Any]:
        """After a full read: the kept locations no level came from are gone from the source
        (a warehouse emptied and dropped): their SKUs are added up again without them."""
        if not self._unseen:
            return
        kept = self._kept(list(self._unseen))
        changed: dict[str, Parts] = {}
        for sku, gone in self._unseen.items():
            if sku in self._refused or sku not in kept:
                continue
            parts = {loc: part for loc, part in kept[sku].items() if loc not in gone}
            changed[sku] = parts
            if parts:
                yield self.combine(sku, parts, [])
        if changed:
            self._keep(changed)

    def _single(self, level: StockLevel) -> StockLevel | RecordInvalid:
        """The only level of its SKU, without location: written as it is (most sources)."""
        if self._none_taken is None:
            self._none_taken = self._taken(None)
        if not self._none_taken:
            return self._skip(level.sku, [None])
        rule = self.settings.stock_rule
        if rule == "on_hand":
            read: tuple[Decimal, ...] = (level.on_hand,)
        else:
            base = level.available if level.available is not None else level.on_hand
            read = (base,) if rule == "available" else (base, level.reserved)
        for value in read:
            if value != value.to_integral_value():
                return self._fraction(level.sku, {None: level}, [level]) or level
        # the level is the run's own: set its fields in place (a model copy or a validated
        # assignment per level would cost more than the rest of the flow)
        level.__dict__.update(quantity=quantity(level, rule), managed=self.settings.manage_stock)
        return level

    def combine(self, sku: str, parts: Parts, read: list[StockLevel]) -> Any:
        """The SKU's level for the target: its taken locations' quantities added up."""
        taken = {loc: part for loc, part in parts.items() if self._taken(loc)}
        if not taken:
            return self._skip(sku, [level.location for level in read] or list(parts))
        refused = self._fraction(sku, taken, read)
        if refused is not None:
            return refused
        rule = self.settings.stock_rule
        stamps = [level.updated_at for level in read if level.updated_at is not None]
        available = [p.available for p in taken.values() if p.available is not None]
        return StockLevel.model_construct(
            key=sku,
            updated_at=max(stamps) if stamps else None,
            extra={},
            sku=sku,
            location=self._target_location(),
            on_hand=sum((p.on_hand for p in taken.values()), ZERO),
            reserved=sum((p.reserved for p in taken.values()), ZERO),
            available=sum(available, ZERO) if len(available) == len(taken) else None,
            managed=self.settings.manage_stock,
            quantity=sum((quantity(p, rule) for p in taken.values()), ZERO),
        )

    def _duplicates(self, sku: str, group: list[StockLevel]) -> RecordInvalid:
        """Two levels of one SKU at one location: which would the target show? (It showed
        the last written, flipping from run to run.)"""
        by_location: dict[str | None, list[StockLevel]] = {}
        for level in group:
            by_location.setdefault(level.location, []).append(level)
        location, levels = max(by_location.items(), key=lambda item: len(item[1]))
        if len(levels) > 1:
            values = " and ".join(_plain(level.on_hand) for level in levels)
            where = f"{len(levels)} levels at {_where(location)} (on_hand {values})"
        else:
            where = f"another level at {_where(location)} earlier in this run"
        return RecordInvalid(
            f"stock level {sku}: {where}; the source must give one level per SKU and location",
            key=sku,
            field="location",
            payload=_payload(group),
        )

    def _fraction(
        self, sku: str, taken: dict[str | None, Any], read: list[StockLevel]
    ) -> RecordInvalid | None:
        """The refusal of a fraction of a unit where the rule reads one, else None."""
        rule = self.settings.stock_rule
        for location, part in taken.items():
            for name in rule_fields(part, rule):
                value = getattr(part, name)
                if value != value.to_integral_value():
                    return RecordInvalid(
                        f"stock level {sku}: {name} {_plain(value)} at {_where(location)} is "
                        "not a whole number of units; a target keeps whole units",
                        key=sku,
                        field=name,
                        payload=_payload(read),
                    )
        return None

    def _skip(self, sku: str, locations: list[str | None]) -> StockLevel:
        where = ", ".join(sorted({_where(loc) for loc in locations}))
        self._skips[sku] = f"{where}: not one of the locations taken ({self._listed()})"
        return StockLevel.model_construct(key=sku, sku=sku, quantity=None)

    def _taken(self, location: str | None) -> bool:
        chosen = self.settings.locations
        return chosen == "sum" or location in chosen

    def _listed(self) -> str:
        return ", ".join(sorted(self.settings.locations))

    def _target_location(self) -> str | None:
        chosen = self.settings.locations
        return next(iter(chosen.values())) if isinstance(chosen, dict) else None

    # --- the levels kept per source location -----------------------------------------------

    def _kept(self, skus: list[str]) -> dict[str, Parts]:
        """The kept levels per location of these SKUs (those with any)."""
        if self.ctx.dry_run and self._dry_kept:
            found = {sku: self._dry_kept[sku] for sku in skus if sku in self._dry_kept}
            rest = [sku for sku in skus if sku not in found]
        else:
            found, rest = {}, skus
        ctx = self.ctx
        bindings: dict[str, Binding] = ctx.store.get_bindings(
            ctx.source.name, ctx.target.name, LOCATIONS_ENTITY, rest, snapshots=False
        )
        for sku, binding in bindings.items():
            found[sku] = parse_parts(binding.fingerprint)
        return found

    def _keep(self, changed: dict[str, Parts]) -> None:
        """Keep these SKUs' levels per location (a dry run only in memory)."""
        if self.ctx.dry_run:
            self._dry_kept.update(changed)
            return
        items = [
            (sku, sku, None, None, parts_json(parts))
            for sku, parts in changed.items()
            if sku not in self._refused
        ]
        ctx = self.ctx
        ctx.store.put_bindings(ctx.source.name, ctx.target.name, LOCATIONS_ENTITY, items)

    # --- writing ---------------------------------------------------------------------------

    def select(self, record: Any) -> str | None:
        return self._skips.get(record.key) if record.quantity is None else None

    def writes(self) -> WriteStrategy:
        """Levels pushed in batches of `batch_size`, at most the target's `stock_batch`."""
        limit = self.ctx.target.capabilities.stock_batch
        return Batches(min(self.settings.batch_size or limit, limit))

    def units(self, record: Any) -> list[Unit]:
        managed = self.settings.manage_stock
        rule = self.settings.stock_rule
        if record.quantity is None:  # a level as a source gives it (an older dead letter)
            record.__dict__.update(quantity=quantity(record, rule), managed=managed)
        elif record.managed != managed:
            record = record.model_copy(update={"managed": managed})
        text = f'{{"managed":{"true" if managed else "false"},"quantity":"{record.quantity}"}}'
        return [Unit(record.key, record.sku, record, text, text)]

    def write_batch(self, units: list[Unit]) -> list[str]:
        levels = {unit.record.sku: unit.record for unit in units}  # a SKU once: the last
        self.ctx.target.hook.push_stock(levels=list(levels.values()))
        return [unit.record.sku for unit in units]
