"""One vocabulary, one list of hooks: everything that names them uses the definitions."""

from __future__ import annotations

from typing import Literal, get_args

import pluggy
import pytest
from pydantic import ValidationError

from host import hookspecs, vocabulary
from host.capabilities import READ_HOOKS, WRITE_HOOKS, Capabilities, hook_mismatches
from host.flows import flow_classes
from host.hookspecs import HOOKS, PROJECT
from host.models import RECORD_TYPES, Product, WebhookEvent


def test_hooks_are_the_functions_the_spec_module_marks() -> None:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    assert set(HOOKS) == set(vars(manager.hook)) and len(HOOKS) == len(set(HOOKS))
    assert HOOKS[0] == "check_connection" and HOOKS[-1] == "write_feedback"  # source order


def test_capability_hooks_and_record_types_cover_every_entity_with_real_hooks() -> None:
    assert set(READ_HOOKS) == set(WRITE_HOOKS) == set(RECORD_TYPES) == set(vocabulary.ENTITIES)
    named = {hook for hooks in (*READ_HOOKS.values(), *WRITE_HOOKS.values()) for hook in hooks}
    assert named <= set(HOOKS)
    assert set(flow_classes()) == set(vocabulary.ENTITIES)  # a flow kind is an entity


def test_records_and_capabilities_take_the_vocabulary_and_nothing_else() -> None:
    assert set(get_args(WebhookEvent.model_fields["entity"].annotation)) == set(vocabulary.ENTITIES)
    assert Product.model_fields["type"].annotation is vocabulary.ProductKind
    with pytest.raises(ValidationError) as info:
        Capabilities(order_types={"journal_entry"})  # type: ignore[arg-type]
    assert "'sales_order', 'invoice', 'direct_invoice', 'quote' or 'financial_entry'" in str(
        info.value
    )
    with pytest.raises(ValidationError):
        Capabilities(debtor_match={"company"})  # type: ignore[arg-type]
    assert Capabilities().debtor_match == {"email"}  # find_debtor's default field


def test_every_term_means_something_and_a_missing_meaning_is_refused() -> None:
    for meanings in (
        vocabulary.ENTITY_MEANING,
        vocabulary.ORDER_TYPE_MEANING,
        vocabulary.PRODUCT_KIND_MEANING,
        vocabulary.DEBTOR_FIELD_MEANING,
    ):
        assert all(meaning.strip() for meaning in meanings.values())
    with pytest.raises(TypeError, match="do not list"):
        vocabulary._values(Literal["a", "b"], {"a": "the first"})


def test_order_types_and_debtor_fields_must_be_declared_with_their_hooks() -> None:
    hooks = {"check_connection", "find_order", "create_order", "find_debtor", "upsert_debtor"}
    quiet = Capabilities(writes={"orders", "customers"}, order_types={"invoice"})
    assert hook_mismatches(quiet, hooks) == []
    silent = Capabilities(writes={"orders", "customers"}, debtor_match=set())
    assert hook_mismatches(silent, hooks) == [
        "declares writes orders but no order_types",
        "implements find_debtor but declares no debtor_match",
    ]


def test_a_write_switched_on_by_a_setting_is_written_and_says_why() -> None:
    why = {"writes stock": "the docs show no stock endpoint"}
    caps = Capabilities(writes={"stock"}, writes_when_set={"stock": "stock_path"}, why_not=why)
    assert "push_stock" in caps.required_hooks()
    with pytest.raises(ValueError, match="stock is not in writes"):
        Capabilities(writes_when_set={"stock": "stock_path"}, why_not=why)
    with pytest.raises(ValueError, match='needs why_not "writes stock"'):
        Capabilities(writes={"stock"}, writes_when_set={"stock": "stock_path"})


def test_a_dry_run_answers_every_write_hook() -> None:
    """Every hook that writes has a stand-in in host.dryrun (feedback's had none: a dry run
    wrote it)."""
    from host.dryrun import DryRun

    writes = {h for hooks in WRITE_HOOKS.values() for h in hooks if not h.startswith("find_")}
    answered = {name for name in vars(DryRun) if not name.startswith("_")}
    assert writes | {"create_debtors"} <= answered
