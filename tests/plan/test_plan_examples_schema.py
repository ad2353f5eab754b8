"""The shipped examples are valid and cover the language; the JSON Schema is well-formed and
documents every field."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from planrunner.exchanges.factory import PAPER_OPENING_PRICES
from planrunner.exchanges.rules import builtin_rules
from planrunner.plan import check_file
from planrunner.plan.model import EntryType, Side, SizeKind, StopType
from planrunner.plan.rules import entry_reference

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "plans" / "examples").glob("*.yaml"))
HEADER = "# yaml-language-server: $schema=../../schemas/plan.schema.json"


def shipped_schema() -> dict:
    text = resources.files("planrunner.schemas").joinpath("plan.schema.json").read_text("utf-8")
    return json.loads(text)


def test_there_are_enough_examples_including_quickstart():
    names = {p.name for p in EXAMPLES}
    assert len(EXAMPLES) >= 8 and "quickstart.yaml" in names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_valid_and_points_at_the_schema(path: Path):
    assert path.read_text(encoding="utf-8").splitlines()[0] == HEADER
    assert (path.parent / "../../schemas/plan.schema.json").resolve().is_file()
    plan, diagnostics = check_file(str(path))
    assert [d.render() for d in diagnostics] == []
    assert plan.symbol in PAPER_OPENING_PRICES and plan.exchange == "paper"


def load_examples():
    return [check_file(str(p))[0] for p in EXAMPLES]


def test_examples_cover_the_language():
    plans = load_examples()
    assert {p.entry.type for p in plans} == set(EntryType)
    assert {p.size.kind for p in plans} == set(SizeKind)
    assert {p.side for p in plans} == set(Side)
    assert {len(p.take_profits) > 1 for p in plans} == {True, False}
    assert {p.stop.type for p in plans if p.stop} == set(StopType)
    assert any(p.stop and p.stop.trailing for p in plans)


def test_example_slices_clear_the_minimum_notional():
    """Every take-profit slice is worth more than the symbol's minimum notional."""
    rules = builtin_rules()
    for plan in load_examples():
        reference = entry_reference(plan) or PAPER_OPENING_PRICES[plan.symbol]
        quantity = _estimated_quantity(plan, reference)
        lowest_exit = min([t.price.resolve(reference) for t in plan.take_profits]
                          + ([plan.stop.trigger.resolve(reference)] if plan.stop else []))
        for target in plan.take_profits:
            notional = quantity * target.portion / 100 * lowest_exit
            assert notional > rules[plan.symbol].min_notional, plan.name


def _estimated_quantity(plan, reference: Decimal) -> Decimal:
    if plan.size.kind is SizeKind.QUANTITY:
        return plan.size.amount
    if plan.size.kind is SizeKind.SPEND:
        return plan.size.amount / reference
    return plan.size.amount / (reference - plan.stop.trigger.resolve(reference))


def test_quickstart_is_the_documented_plan():
    plan = check_file(str(ROOT / "plans" / "examples" / "quickstart.yaml"))[0]
    assert (plan.symbol, plan.side, plan.entry.type) == ("BTCUSDT", Side.BUY, EntryType.MARKET)
    assert plan.size.amount == Decimal("0.01")
    assert [(str(t.price), t.portion) for t in plan.take_profits] == [("+0.5%", 50), ("+0.8%", 50)]
    assert (str(plan.stop.trigger), str(plan.stop.limit)) == ("-1%", "-0.2%")


def test_schema_is_valid_2020_12_with_id():
    schema = shipped_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("plan.schema.json")


def test_repository_schema_link_is_the_shipped_schema():
    link = ROOT / "schemas" / "plan.schema.json"
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()
    assert json.loads(link.read_text(encoding="utf-8")) == shipped_schema()


def documented_objects(schema: dict):
    """Every object schema describing plan data: the root, $defs and their properties,
    skipping the conditional (if/then/else) parts that only restrict them."""
    yield "root", schema
    for name, sub in schema["$defs"].items():
        yield f"$defs/{name}", sub


def test_every_property_has_description_and_examples():
    for where, sub in documented_objects(shipped_schema()):
        assert sub.get("description") and sub.get("examples"), where
        for name, prop in sub.get("properties", {}).items():
            assert prop.get("description") and prop.get("examples"), f"{where}.{name}"


def test_every_object_forbids_unknown_keys():
    objects = [(w, s) for w, s in documented_objects(shipped_schema()) if s.get("type") == "object"]
    assert len(objects) == 4  # root, entry, takeProfit, stop
    for where, sub in objects:
        assert sub.get("additionalProperties") is False, where


def test_schema_examples_validate_against_the_schema():
    schema = shipped_schema()
    validator = Draft202012Validator(schema)
    for example in schema["examples"]:
        assert list(validator.iter_errors(example)) == []


def test_decisions_are_documented_in_the_schema():
    defs = shipped_schema()["$defs"]
    assert "write portion as a percentage, e.g. 50%" in defs["portion"]["description"]
    assert "floor of a trailing stop" in defs["trailing"]["description"]
    assert "whole number of basis points" in defs["trailing"]["description"]
    assert "Required with type limit, forbidden with type market" in defs["stop"]["properties"]["limit"]["description"]
