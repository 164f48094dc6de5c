"""The standard tests every connector passes against its own sandbox.

Subclass `ContractTests` in a plugin's test module and name the plugin and
sandbox classes; pytest collects the inherited tests:

    from host.testing import ContractTests

    class TestShopifyContract(ContractTests):
        plugin_class = ShopifyPlugin
        sandbox_class = ShopifySandbox

The kit checks that declared reads/writes match the implemented hooks, that
check_connection works and bad credentials raise AuthError, that fetch hooks
stream, that every declared write round-trips (write, then find or fetch it
back), orders once for every declared order type, that creating an order (of
each type), shipment or refund twice creates one and writing feedback twice keeps one,
that a shipment, refund or feedback without the target's order id finds its order by
number, and that a debtor is
found by every field the connector declares in `debtor_match`.

Override the `samples`, `prepare`, `existing_order_id`, `stock_of` and
`exists` methods where the remote needs other data or cannot be read back
through the plugin's own hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import islice
from typing import Any, ClassVar, TypeVar

import pytest
from pydantic import SecretStr

from host.authorize import authorize_at_sandbox
from host.capabilities import hook_mismatches
from host.errors import AuthError
from host.models import RECORD_TYPES, Customer, Record
from host.plugins import Connection, PluginInfo, implemented_hooks
from host.sandbox import Sandbox
from host.testing import samples
from host.vocabulary import DEBTOR_FIELDS, ENTITIES, ORDER_TYPES, DebtorField, Entity, OrderType

_Test = TypeVar("_Test", bound=Callable[..., None])


def _secret_fields(settings_model: Any) -> list[str]:
    return [
        name
        for name, field in settings_model.model_fields.items()
        if "SecretStr" in str(field.annotation) or field.annotation is SecretStr
    ]


_Cases = Callable[[Any], tuple[str, list[Any]]]


def _kit_cases(cases: _Cases) -> Callable[[_Test], _Test]:
    """Parametrize a kit test with what `cases(plugin_class)` answers: the argument names
    and pytest.params. A case the plugin does not declare is marked skip, with the reason,
    so its sandbox is never started (see ContractTests.pytest_generate_tests)."""

    def mark(test: _Test) -> _Test:
        test.kit_cases = cases  # type: ignore[attr-defined]
        return test

    return mark


def _skip(reason: str | None) -> list[pytest.MarkDecorator]:
    return [pytest.mark.skip(reason=reason)] if reason else []


def _reads(plugin: Any) -> tuple[str, list[Any]]:
    reads = plugin.capabilities.reads
    return "entity", [
        pytest.param(e, id=e, marks=_skip(None if e in reads else f"does not read {e}"))
        for e in ENTITIES
    ]


def _writes(*entities: Entity) -> _Cases:
    """Once per entity, and for orders once per declared order type (ids such as
    ``orders-invoice``); parameters `entity` and `order_type`."""

    def cases(plugin: Any) -> tuple[str, list[Any]]:
        caps = plugin.capabilities
        params = []
        for entity in entities:
            types: list[OrderType | None] = [t for t in ORDER_TYPES if t in caps.order_types]
            if entity != "orders" or not types:
                types = [None]
            skip = None if entity in caps.writes else f"does not write {entity}"
            for order_type in types:
                ident = f"{entity}-{order_type}" if order_type else entity
                params.append(pytest.param(entity, order_type, id=ident, marks=_skip(skip)))
        return "entity,order_type", params

    return cases


def _debtor_fields(plugin: Any) -> tuple[str, list[Any]]:
    keeps = "find_debtor" in implemented_hooks(plugin)
    declared = plugin.capabilities.debtor_match
    params = []
    for field in DEBTOR_FIELDS:
        skip = None
        if not keeps:
            skip = "keeps no debtors (no find_debtor)"
        elif field not in declared:
            skip = f"does not declare debtor_match {field}"
        params.append(pytest.param(field, id=field, marks=_skip(skip)))
    return "field", params


class ContractTests:
    """Inherit to run the contract kit against one plugin and its sandbox."""

    plugin_class: ClassVar[type[Any]]
    sandbox_class: ClassVar[type[Sandbox]]
    sandbox_kwargs: ClassVar[dict[str, Any]] = {}
    #: entities whose fetch hook must yield at least one record after `prepare`
    expect_records: ClassVar[set[str]] = set()

    # --- override points ------------------------------------------------------------------

    def samples(self) -> dict[str, Record]:
        """One record per entity for the write tests. The shipment's, refund's and
        feedback's `order_number` is the number of the order `existing_order_id` returns."""
        return {
            "orders": samples.order(),
            "products": samples.product(),
            "stock": samples.stock_level(),
            "customers": samples.customer(),
            "shipments": samples.shipment(),
            "refunds": samples.refund(),
            "feedback": samples.feedback(),
        }

    def settings(self, sandbox: Sandbox) -> dict[str, Any]:
        """The connection's settings: the sandbox's own by default; add the settings your
        Settings requires that no sandbox can give (an administration's choices)."""
        return dict(sandbox.connection_settings())

    def prepare(self, sandbox: Sandbox, connection: Connection) -> None:
        """Put what the write tests rely on into the remote (the sample product by default)."""
        if "products" in connection.capabilities.writes:
            connection.hook.upsert_product(
                product=self.samples()["products"], existing_id=None, update_info=True
            )

    def debtor_id(self, sandbox: Sandbox, connection: Connection) -> str | None:
        """The debtor orders are booked on: the sample customer's, where the target keeps
        debtors (an ERP needs one), else None."""
        if not connection.implements("upsert_debtor"):
            return None
        customer = self.samples()["customers"]
        match_on = _match_field(connection)
        existing = connection.hook.find_debtor(customer=customer, match_on=match_on)
        return existing or connection.hook.upsert_debtor(customer=customer, existing_id=None)

    def existing_order_id(self, sandbox: Sandbox, connection: Connection) -> str:
        """A target order to attach shipments, refunds and feedback to, numbered as the
        samples' shipment, refund and feedback say (`order_number`)."""
        if "orders" not in connection.capabilities.writes:
            pytest.fail(
                f"{type(self).__name__}: the plugin does not write orders; override "
                "existing_order_id() to seed an order in the sandbox and return its id"
            )
        order = self.samples()["orders"]
        order_type = self._order_type(connection)
        return connection.hook.find_order(
            order=order, order_type=order_type
        ) or connection.hook.create_order(
            order=order,
            order_type=order_type,
            debtor_id=self.debtor_id(sandbox, connection),
        )

    def stock_of(self, sandbox: Sandbox, connection: Connection, sku: str) -> Decimal | None:
        """The quantity the remote shows for `sku`, read through fetch_stock by default."""
        if "stock" not in connection.capabilities.reads:
            pytest.fail(
                f"{type(self).__name__}: the plugin does not read stock; override stock_of() "
                "to read the quantity from the sandbox"
            )
        for level in connection.hook.fetch_stock(since=None):
            if level.sku == sku:
                return level.on_hand if level.available is None else level.available
        return None

    def exists(self, sandbox: Sandbox, connection: Connection, entity: str, target_id: str) -> bool:
        """Whether a shipment, refund or feedback with `target_id` exists in the remote."""
        if entity not in connection.capabilities.reads:
            pytest.fail(
                f"{type(self).__name__}: the plugin does not read {entity}; override exists() "
                "to look the record up in the sandbox"
            )
        fetch = getattr(connection.hook, f"fetch_{entity}")
        return any(record.key == target_id for record in fetch(since=None))

    # --- fixtures -------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize the kit's tests by what the plugin declares (see _kit_cases)."""
        cases = getattr(metafunc.function, "kit_cases", None)
        if cases is not None:
            metafunc.parametrize(*cases(self.plugin_class))

    @pytest.fixture
    def sandbox(self) -> Iterator[Sandbox]:
        with self.sandbox_class(**self.sandbox_kwargs) as running:
            yield running

    def _connect(self, settings: dict[str, Any]) -> Connection:
        info = PluginInfo(name=self.plugin_class.name, cls=self.plugin_class)
        model = self.plugin_class.Settings.model_validate(settings)
        return Connection(f"contract-{info.name}", info, model)

    @pytest.fixture
    def connection(self, sandbox: Sandbox) -> Iterator[Connection]:
        with self._connect(self.settings(sandbox)) as conn:
            flow = conn.hook.oauth2_flow()
            if flow is not None:  # OAuth2 authorization code: the sandbox allows at once
                authorize_at_sandbox(flow)
            yield conn

    @staticmethod
    def _order_type(connection: Connection) -> OrderType:
        offered = connection.capabilities.order_types
        return "sales_order" if "sales_order" in offered else sorted(offered)[0]

    @staticmethod
    def _need_order_type(entity: str, order_type: OrderType | None) -> None:
        if entity == "orders" and order_type is None:
            pytest.fail("declares writes orders but no order_types")

    # --- the contract ---------------------------------------------------------------------

    def test_declared_capabilities_match_hooks(self) -> None:
        caps = self.plugin_class.capabilities
        problems = hook_mismatches(caps, set(implemented_hooks(self.plugin_class)))
        assert problems == [], f"{self.plugin_class.__name__}: " + "; ".join(problems)

    def test_check_connection(self, connection: Connection) -> None:
        assert connection.hook.check_connection() is None

    def test_bad_credentials_raise_auth_error(self, sandbox: Sandbox) -> None:
        settings = self.settings(sandbox)
        secrets = _secret_fields(self.plugin_class.Settings)
        if not secrets:
            pytest.skip("the system takes no credentials (Settings has no SecretStr field)")
        for name in secrets:
            if settings.get(name):
                settings[name] = "wrong-" + str(settings[name])
        with self._connect(settings) as conn, pytest.raises(AuthError):
            conn.hook.check_connection()

    @_kit_cases(_reads)
    def test_fetch_streams(self, entity: str, sandbox: Sandbox, connection: Connection) -> None:
        self.prepare(sandbox, connection)
        kwargs: dict[str, Any] = {"since": None}
        if entity == "orders":
            kwargs["statuses"] = None
        result = getattr(connection.hook, f"fetch_{entity}")(**kwargs)
        assert isinstance(result, Iterator) and not isinstance(result, (list, tuple)), (
            f"fetch_{entity} must stream (return a generator), got {type(result).__name__}"
        )
        records = list(islice(result, 100))
        for record in records:
            assert isinstance(record, RECORD_TYPES[entity]), (
                f"fetch_{entity} yielded {type(record).__name__}"
            )
        if entity in self.expect_records:
            assert records, f"fetch_{entity} yielded nothing"

    @_kit_cases(_writes(*ENTITIES))
    def test_write_round_trips(
        self,
        entity: str,
        order_type: OrderType | None,
        sandbox: Sandbox,
        connection: Connection,
    ) -> None:
        self._need_order_type(entity, order_type)
        self.prepare(sandbox, connection)
        sample: Any = self.samples()[entity]
        hook = connection.hook
        if entity == "orders":
            target_id = hook.create_order(
                order=sample,
                order_type=order_type,
                debtor_id=self.debtor_id(sandbox, connection),
            )
            found = hook.find_order(order=sample, order_type=order_type)
            assert target_id and found == target_id, (
                f"the {order_type} created as {target_id} is found as {found}"
            )
        elif entity == "customers":
            match_on = _match_field(connection)
            assert hook.find_debtor(customer=sample, match_on=match_on) is None
            target_id = hook.upsert_debtor(customer=sample, existing_id=None)
            assert hook.find_debtor(customer=sample, match_on=match_on) == target_id
            if match_on == "email":
                upper = sample.model_copy(update={"email": sample.email.upper()})
                assert hook.find_debtor(customer=upper, match_on="email") == target_id
            assert hook.upsert_debtor(customer=sample, existing_id=target_id) == target_id
        elif entity == "products":
            found = hook.find_products(skus=[sample.sku, "IHOST-KIT-DOES-NOT-EXIST"])
            assert set(found) == {sample.sku}, f"find_products answered {found}"
            assert (
                hook.upsert_product(
                    product=sample, existing_id=found[sample.sku], update_info=False
                )
                == found[sample.sku]
            )
        elif entity == "stock":
            assert hook.push_stock(levels=[sample]) is None
            assert self.stock_of(sandbox, connection, sample.sku) == sample.quantity
        else:
            order_id = self.existing_order_id(sandbox, connection)
            target_id = _create_for_order(connection, entity, sample, order_id)
            assert target_id and self.exists(sandbox, connection, entity, target_id)

    @_kit_cases(_writes("orders", "shipments", "refunds", "feedback"))
    def test_create_twice_creates_one(
        self,
        entity: str,
        order_type: OrderType | None,
        sandbox: Sandbox,
        connection: Connection,
    ) -> None:
        self._need_order_type(entity, order_type)
        self.prepare(sandbox, connection)
        sample: Any = self.samples()[entity]
        if entity == "orders":
            debtor = self.debtor_id(sandbox, connection)
            first = connection.hook.create_order(
                order=sample, order_type=order_type, debtor_id=debtor
            )
            assert connection.hook.find_order(order=sample, order_type=order_type) == first
            second = connection.hook.create_order(
                order=sample, order_type=order_type, debtor_id=debtor
            )
        else:
            order_id = self.existing_order_id(sandbox, connection)
            first = _create_for_order(connection, entity, sample, order_id)
            second = _create_for_order(connection, entity, sample, order_id)
        what = order_type or _noun(entity)
        assert first, f"creating the {what} returned no target id"
        assert second == first, f"a second {what} was created: {first} and {second}"

    @_kit_cases(_writes("shipments", "refunds", "feedback"))
    def test_order_found_by_number_without_order_id(
        self, entity: str, order_type: None, sandbox: Sandbox, connection: Connection
    ) -> None:
        """order_id None: the connector looks the order up by the record's order_number."""
        self.prepare(sandbox, connection)
        sample: Any = self.samples()[entity]
        self.existing_order_id(sandbox, connection)
        first = _create_for_order(connection, entity, sample, None)
        assert first and self.exists(sandbox, connection, entity, first)
        second = _create_for_order(connection, entity, sample, None)
        assert second == first, f"a second {_noun(entity)} was created: {first} and {second}"

    @_kit_cases(_debtor_fields)
    def test_debtor_found_by_each_declared_field(
        self, field: DebtorField, sandbox: Sandbox, connection: Connection
    ) -> None:
        """Every field of capabilities.debtor_match finds the debtor upsert_debtor wrote."""
        self.prepare(sandbox, connection)
        customer = _findable(self.samples()["customers"])
        hook = connection.hook
        assert hook.find_debtor(customer=customer, match_on=field) is None, (
            f"find_debtor by {field} found a debtor before there was one"
        )
        target_id = hook.upsert_debtor(customer=customer, existing_id=None)
        probe = customer.model_copy(update={"key": target_id}) if field == "key" else customer
        found = hook.find_debtor(customer=probe, match_on=field)
        assert found == target_id, f"find_debtor by {field} found {found}, not {target_id}"

    def test_webhook_without_signature_raises_auth_error(self, connection: Connection) -> None:
        if not self.plugin_class.capabilities.webhooks:
            pytest.skip("announces nothing by webhook")
        with pytest.raises(AuthError):
            connection.hook.parse_webhook(headers={}, body=b'{"id": 1}')


def _match_field(connection: Connection) -> DebtorField:
    """The field the kit finds debtors by: e-mail where declared, else the first declared."""
    declared = connection.capabilities.debtor_match
    return next((f for f in DEBTOR_FIELDS if f in declared), "email")


def _findable(customer: Any) -> Customer:
    """The sample customer with a value for every field a debtor may be found by."""
    values = {"phone": "+31205550199", "vat_number": "NL000099998B57"}
    return customer.model_copy(update={k: v for k, v in values.items() if not getattr(customer, k)})


def _noun(entity: str) -> str:
    """ "shipment" of "shipments"; "feedback" of "feedback"."""
    return entity.removesuffix("s")


def _create_for_order(
    connection: Connection, entity: str, record: Record, order_id: str | None
) -> str:
    """create_shipment, create_refund or write_feedback of `record` for target order
    `order_id`."""
    if entity == "shipments":
        return connection.hook.create_shipment(shipment=record, order_id=order_id)
    if entity == "feedback":
        return connection.hook.write_feedback(feedback=record, order_id=order_id)
    return connection.hook.create_refund(refund=record, order_id=order_id)
