"""The store's tables (DESIGN §7), in SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

SCHEMA_VERSION = 6
# 2: dead_letters.detail, flow_locks; 3: bindings.fingerprint; 4: oauth_tokens; 5: ledger;
# 6: record_log, runs.rate_limit_wait, dead_letters.kind and resolved_by, an index on
# events.record_key


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back timezone aware, SQLite included."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store keeps only timezone-aware datetimes")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


Json = sa.JSON(none_as_null=True)

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

#: source record -> target record, with the content hash last written.
bindings = sa.Table(
    "bindings",
    metadata,
    sa.Column("source", sa.String(128), primary_key=True, doc="source connection"),
    sa.Column("target", sa.String(128), primary_key=True, doc="target connection"),
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("source_key", sa.String(255), primary_key=True),
    sa.Column("target_id", sa.String(255), nullable=False),
    sa.Column("content_hash", sa.String(64)),
    sa.Column(
        "snapshot", sa.Text, doc="the mapped record last written, as JSON; purged after retention"
    ),
    sa.Column(
        "fingerprint",
        sa.Text,
        doc="what a flow keeps to tell later what changed, as JSON, never personal data: "
        "a short hash of each field of an order written, a SKU's stock per source location; "
        "not purged",
    ),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # shipments and refunds look orders up by their target id; no other entity needs it,
    # and a full index would cost every stock level written a second B-tree insert
    sa.Index(
        "ix_bindings_order_target_id",
        "target",
        "source",
        "target_id",
        sqlite_where=sa.text("entity = 'orders'"),
        postgresql_where=sa.text("entity = 'orders'"),
    ),
)

#: how far each flow has read its source.
cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("flow", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("flow", sa.String(128), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column(
        "status", sa.String(16), nullable=False, doc="running | ok | failed | aborted | stopped"
    ),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime()),
    sa.Column("counts", Json),
    sa.Column("error", sa.Text),
    sa.Column("rate_limit_wait", sa.Float, doc="seconds the run waited on rate limits"),
)

#: the activity log: keys, actions and messages; never addresses or e-mail in clear.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), index=True),
    sa.Column("flow", sa.String(128), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
    sa.Column("level", sa.String(8), nullable=False, doc="info | warning | error"),
    sa.Column("record_key", sa.String(255), index=True),
    sa.Column("action", sa.String(32)),
    sa.Column("target_id", sa.String(255)),
    sa.Column("message", sa.Text),
    sa.Column("payload", Json, doc="purged after retention_days"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("flow", sa.String(128), nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("record_key", sa.String(255), nullable=False),
    sa.Column("payload", Json, doc="the source record, purged after retention_days"),
    sa.Column("error", sa.Text, nullable=False, doc="what failed, fit for the activity log"),
    sa.Column("detail", sa.Text, doc="the remote's own words; purged after retention_days"),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("status", sa.String(16), nullable=False, doc="open | resolved"),
    sa.Column("created_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime()),
    sa.Column("kind", sa.Text, doc="invalid | refused | unavailable | unsupported | error"),
    sa.Column("resolved_by", sa.Text, doc="who or what resolved it"),
    sa.Index("ix_dead_letters_record", "flow", "record_key", "status"),
)

#: each record a run did something with (not the unchanged ones): what was read, what it
#: was mapped to, the calls that wrote it (secrets redacted) and the fields an update
#: changed. May hold personal data: shown only behind the dashboard's token, never in the
#: activity log; `source`, `mapped`, `calls`, `changes` and `detail` are purged after
#: retention_days, the rest (keys, action, target id) stays as the record's history.
record_log = sa.Table(
    "record_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), index=True),
    sa.Column("flow", sa.String(128), nullable=False),
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("record_key", sa.String(255), nullable=False, index=True),
    sa.Column("order_ref", sa.String(255), doc="the order's number (or key)"),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target_id", sa.String(255), index=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("reason", sa.Text, doc="fit for the activity log"),
    sa.Column("detail", sa.Text, doc="the remote's own words"),
    # JSON as text, written as the runner has it (a record's own serialisation): a stock
    # sync keeps thousands of these a second
    sa.Column("source", sa.Text, doc="the record as read from the source, as JSON"),
    sa.Column("mapped", sa.Text, doc="as written, as JSON, when it differs from as read"),
    sa.Column("calls", sa.Text, doc="requests sent and the target's answers, as JSON"),
    sa.Column("changes", sa.Text, doc='{"field": [old, new]} of an update, as JSON'),
    # most records belong to no order (a product, a stock level): only those that do
    sa.Index(
        "ix_record_log_order_ref",
        "order_ref",
        sqlite_where=sa.text("order_ref IS NOT NULL"),
        postgresql_where=sa.text("order_ref IS NOT NULL"),
    ),
)

#: webhook deliveries already acted on, for de-duplication by the remote's event id
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("connection", sa.String(128), primary_key=True),
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("received_at", UtcDateTime(), nullable=False, index=True),
)

#: who runs each flow now (SQLite; on PostgreSQL an advisory lock decides, this row informs)
flow_locks = sa.Table(
    "flow_locks",
    metadata,
    sa.Column("flow", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, doc="one id per holder"),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", UtcDateTime(), nullable=False),
)

#: each connection's OAuth2 tokens (host.tokens.TokenVault), sealed with Fernet under
#: $IHOST_SECRET_KEY: never a token in clear text
oauth_tokens = sa.Table(
    "oauth_tokens",
    metadata,
    sa.Column("connection", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False, doc="grows by one with every write"),
    sa.Column("sealed", sa.Text, nullable=False, doc="the tokens as JSON, encrypted"),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

#: what each connection keeps to know what it has read or written before (host.ledger): a
#: file connector's processed DOCNUMs and content hashes, the files it wrote. Keys and
#: values are ids, hashes and file names, never personal data.
ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("connection", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
