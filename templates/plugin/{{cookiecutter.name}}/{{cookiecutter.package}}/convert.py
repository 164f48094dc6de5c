"""{{ cookiecutter.system }} records <-> host.models, both ways, and nothing else."""

from __future__ import annotations

from typing import Any

from host.models import Record, record_or_invalid

# TODO({{ cookiecutter.prefix | lower }}): map the real records' fields in to_record and to_remote

#: fields of the remote's records that are not canonical fields
REMOTE_ONLY = {"id", "source_key", "order_id", "order_type", "debtor_id"}


def to_record(model: type[Record], row: dict[str, Any]) -> Any:
    """A `model` record of a remote row, or a RecordInvalid naming the field (a fetch hook
    yields it, never raises it)."""
    data = {k: v for k, v in row.items() if k in model.model_fields and k not in REMOTE_ONLY}
    data.setdefault("key", str(row["id"]))
    return record_or_invalid(model, data, key=str(data["key"]), payload=row)


def to_remote(record: Record) -> dict[str, Any]:
    """The remote's shape of a record; `native.` extra fields go in as they are."""
    body = record.model_dump(mode="json", exclude={"extra"})
    body.update({k.removeprefix("native."): v for k, v in record.extra.items()})
    return body
