"""Client order ids and plan fingerprints: deterministic, unique, Binance-safe."""

from __future__ import annotations

import dataclasses
import re

import pytest
from compile_builders import D, MARKET_ENTRY, compiled, limit_entry, market, none_entry, plan, tps

from planrunner.actions import ActionKind
from planrunner.compile import client_order_id, plan_fingerprint
from planrunner.plan.model import PriceExpr, PriceKind, Side, TakeProfit

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
EIGHT = tps(*[(f"+{i}%", "12.5") for i in range(1, 9)])


def _ids(result) -> list[str]:
    # a single order's action id is its leg's newClientOrderId; a list has its own listClientOrderId
    ids = [a.client_id for a in result.actions if a.kind is ActionKind.PLACE_ORDER_LIST]
    return ids + [leg.client_order_id for a in result.actions for leg in a.legs]


@pytest.mark.parametrize("the_plan", [
    plan(take_profits=EIGHT), plan(side=Side.SELL), plan(entry=MARKET_ENTRY, take_profits=EIGHT),
    plan(entry=none_entry("7000")), plan(name="a-very-long-plan-name-of-forty-chars-xx", take_profits=EIGHT),
], ids=["lists", "sell", "market", "none", "long-name"])
def test_client_ids_are_unique_valid_and_deterministic(the_plan):
    roomy = market(max_num_algo_orders=0, max_num_orders=0, max_num_order_lists=0)
    first, second = compiled(the_plan, roomy), compiled(the_plan, roomy)
    ids = _ids(first)
    assert ids == _ids(second)
    singles = [a for a in first.actions if a.kind is ActionKind.PLACE_ORDER]
    assert all(a.client_id == a.legs[0].client_order_id for a in singles)
    assert len(ids) == len(set(ids))
    assert all(ID_RE.match(i) for i in ids)


def test_client_order_id_shape():
    assert client_order_id("btc-breakout", "ab12cd34", "l1tp") == "btc-breakout-ab12cd-l1tp"
    assert client_order_id("x" * 40, "n s!", "e") == "x" * 20 + "-n-s--e"


def test_client_order_id_refuses_a_tag_that_would_overflow():
    with pytest.raises(ValueError):
        client_order_id("x" * 40, "abcdef", "t" * 10)


def test_fingerprint_ignores_formatting_but_not_meaning():
    base = plan()
    same = dataclasses.replace(base, size=dataclasses.replace(base.size, amount=D("0.0100")))
    other = dataclasses.replace(base, entry=limit_entry("7101"))
    assert plan_fingerprint(base) == plan_fingerprint(same)
    assert plan_fingerprint(base) != plan_fingerprint(other)
    assert re.fullmatch(r"[0-9a-f]{64}", plan_fingerprint(base))
    moved = dataclasses.replace(base, take_profits=(TakeProfit(PriceExpr(PriceKind.OFFSET, D("3")), D(100)),))
    assert plan_fingerprint(moved) != plan_fingerprint(base)


def test_action_plan_carries_fingerprint_and_namespace():
    result = compiled(plan())
    assert result.fingerprint == plan_fingerprint(plan()) and result.namespace == "ab12cd"
    assert result.last_price == D("7195.24") and result.orders_to_place == 6
