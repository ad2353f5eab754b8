"""render_json: the documented machine form of an ActionPlan."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from render_samples import empty_plan, market_then_oco_plan, opoco_plan, trailing_stop_plan

from planrunner.render import JSON_FORMAT_VERSION, render_json

SAMPLES = [opoco_plan, market_then_oco_plan, trailing_stop_plan, empty_plan]


def _walk(value):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


@pytest.mark.parametrize("make", SAMPLES)
def test_round_trips_through_sorted_json(make):
    payload = render_json(make())
    assert json.loads(json.dumps(payload, sort_keys=True)) == payload


@pytest.mark.parametrize("make", SAMPLES)
def test_never_contains_floats_or_decimals(make):
    kinds = {type(v) for v in _walk(render_json(make()))}
    assert float not in kinds and Decimal not in kinds


def test_top_level_keys_and_plan_block():
    payload = render_json(opoco_plan())
    assert set(payload) == {"format_version", "plan", "strategy", "actions", "summary", "risk",
                            "warnings", "done"}
    assert payload["done"] == []
    assert payload["format_version"] == JSON_FORMAT_VERSION == 1
    assert payload["plan"] == {"name": "btc", "exchange": "paper", "symbol": "BTCUSDT",
                               "side": "buy", "fingerprint": "ab" * 32, "namespace": "test00",
                               "last_price": "7195.24"}
    assert payload["strategy"] == {"name": "OPOCO", "reason": opoco_plan().strategy_reason,
                                   "protection": "exits armed by the exchange: protected even "
                                                 "while planrunner is not running"}
    assert payload["summary"] == {"to_place": 6, "to_cancel": 1}
    assert payload["warnings"] == ["expire_after needs planrunner running"]


def test_action_fields():
    first, _, cancel = render_json(opoco_plan())["actions"]
    assert first["id"] == "slice-1" and first["kind"] == "place_order_list"
    assert first["endpoint"] == "POST /api/v3/orderList/opoco"
    assert first["params"][:2] == [["symbol", "BTCUSDT"], ["listClientOrderId", "btc-test00-l1"]]
    assert [leg["role"] for leg in first["legs"]] == ["entry", "take_profit", "stop"]
    assert first["legs"][1]["pending"] is True and first["legs"][1]["quantity"] is None
    assert first["legs"][2]["stop_price"] == "6800"
    assert cancel["kind"] == "cancel" and cancel["emulated"] is True
    assert cancel["delay_s"] == 43200 and cancel["wait_for"] == "slice-1"


def test_deferred_values_are_marked_with_their_estimate():
    _, wait, exit_ = render_json(market_then_oco_plan())["actions"]
    assert wait["endpoint"] is None and wait["params"] == [] and wait["wait_for"] == "entry"
    deferred = {"after_entry_fill": True, "estimate": "0.7685"}
    assert ["quantity", deferred] in exit_["params"]
    assert exit_["legs"][0]["quantity"] == deferred
    assert exit_["legs"][1]["stop_price"] == {"after_entry_fill": True, "estimate": "127.4"}
    assert exit_["after_fill"] is True


def test_risk_block_is_exact_strings():
    risk = render_json(market_then_oco_plan())["risk"]
    assert risk == {"quote_asset": "USDT", "worst_loss": "2.1234", "worst_loss_pct": "2.12",
                    "best_gain": "3", "best_gain_pct": "3", "reward_risk": "1.41",
                    "estimated": True}
    assert render_json(trailing_stop_plan())["risk"]["best_gain"] is None


def test_done_steps_leave_actions_and_counts_but_not_the_protection_line():
    import dataclasses

    from planrunner.render import render_text
    plan = opoco_plan()
    first = plan.actions[0].id
    partial = dataclasses.replace(plan, done=frozenset({first}))
    payload = render_json(partial)
    assert payload["done"] == [first]
    assert first not in [a["id"] for a in payload["actions"]]
    assert payload["summary"]["to_place"] < render_json(plan)["summary"]["to_place"]
    text = render_text(partial, color=False)
    assert f"already done or sent, not shown: {first}" in text
    assert "protected even while planrunner is not running" in text
