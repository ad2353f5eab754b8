"""render_text: the Terraform-style listing of an ActionPlan."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal as D

import pytest
from render_samples import empty_plan, market_then_oco_plan, opoco_plan, trailing_stop_plan

from planrunner.actions import RiskSummary
from planrunner.render import duration, render_text, risk_line, summary_line

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("make, verdict", [
    (opoco_plan, ("Protection: exits armed by the exchange: protected even while planrunner is "
                 "not running")),
    (trailing_stop_plan, ("Protection: exits armed by the exchange: protected even while "
                         "planrunner is not running")),
    (market_then_oco_plan, ("Protection: exits are placed by planrunner after the entry fills: "
                           "keep planrunner running until then, the position is unprotected in "
                           "between")),
])
def test_protection_line_says_who_arms_the_exits(make, verdict):
    assert verdict in render_text(make(), color=False).splitlines()


def test_header_names_exchange_symbol_side_and_strategy_reason():
    text = render_text(opoco_plan(), color=False)
    assert "exchange paper, symbol BTCUSDT, side buy" in text
    strategy = [line for line in text.splitlines() if line.startswith("Strategy")]
    assert strategy == [("Strategy OPOCO: exits armed by the exchange: protected even while "
                        "planrunner is not running")]


def test_order_list_legs_are_indented_under_the_list_line_with_its_client_id():
    lines = render_text(opoco_plan(), color=False).splitlines()
    start = lines.index("  + order list OPOCO, list client id btc-test00-l1")
    legs = lines[start + 1:start + 4]
    assert all(leg.startswith("      + ") for leg in legs)
    assert "entry       LIMIT BUY 0.0005 BTC @ 7000 USDT, GTC, client id btc-test00-e1" in legs[0]
    assert legs[1].endswith("client id btc-test00-e1tp [pending: armed when the entry fills]")
    assert "stop 6800 USDT, limit 6790 USDT, GTC" in legs[2]


def test_entry_leg_is_not_marked_pending():
    lines = render_text(opoco_plan(), color=False).splitlines()
    entry = next(line for line in lines if "client id btc-test00-e1," not in line
                 and line.endswith("client id btc-test00-e1"))
    assert "pending" not in entry


def test_cancel_is_a_minus_line_marked_as_needing_planrunner():
    text = render_text(opoco_plan(), color=False)
    assert ("  - cancel the unfilled part of slice-1 (list client id btc-test00-l1), 12h after "
            "it is placed [needs planrunner running]") in text.splitlines()
    assert "only while planrunner is running: expire-slice-1" in text


def test_await_fill_is_a_wait_line_naming_the_order():
    lines = render_text(market_then_oco_plan(), color=False).splitlines()
    assert "  <= wait until entry (client id eth-x-e1) is filled" in lines


def test_deferred_values_are_estimates_marked_after_entry_fill():
    text = render_text(market_then_oco_plan(), color=False)
    assert ("LIMIT_MAKER SELL ~0.7685 ETH (after entry fill) @ ~133.9 USDT (after entry fill)"
            in text)
    assert "stop ~127.4 USDT (after entry fill)" in text


def test_market_entry_by_quote_amount_and_trailing_stop():
    assert "MARKET BUY for 100 USDT (quote quantity)" in render_text(market_then_oco_plan(),
                                                                      color=False)
    text = render_text(trailing_stop_plan(), color=False)
    assert ("  + stop: STOP_LOSS_LIMIT SELL 1.5 BNB, limit 0.00185 BTC, "
            "trailing 150 BIPS (1.5%), GTC, client id bnb-x-s1") in text.splitlines()


@pytest.mark.parametrize("make, expected", [
    (opoco_plan, "Plan: 6 orders to place, 1 to cancel."),
    (market_then_oco_plan, "Plan: 3 orders to place, 0 to cancel."),
    (trailing_stop_plan, "Plan: 1 order to place, 0 to cancel."),
    (empty_plan, "Plan: 0 orders to place, 0 to cancel."),
])
def test_summary_line_counts_legs(make, expected):
    plan = make()
    assert summary_line(plan) == expected
    assert expected in render_text(plan, color=False).splitlines()


def test_warnings_are_listed():
    text = render_text(opoco_plan(), color=False)
    assert "Warnings:\n  ! expire_after needs planrunner running" in text
    assert "Warnings:" not in render_text(market_then_oco_plan(), color=False)


def test_risk_line_amounts_percents_and_ratio():
    assert risk_line(opoco_plan().risk) == (
        "Risk: worst case -0.21 USDT (-3%), best case +0.40 USDT (+5.71%), reward:risk 1.90")


def test_risk_line_says_estimated():
    assert risk_line(market_then_oco_plan().risk).endswith("reward:risk 1.41 (estimated)")


def test_risk_line_small_quote_amounts_keep_significant_digits():
    assert risk_line(trailing_stop_plan().risk) == (
        "Risk: worst case -0.00001235 BTC (-0.43%), best case open (no take-profit), "
        "reward:risk n/a")


def test_risk_line_without_stop_says_unbounded():
    risk = RiskSummary("USDT", None, None, D("12.345"), D("1.5"), None)
    assert risk_line(risk) == ("Risk: worst case unbounded (no stop), best case +12.35 USDT "
                               "(+1.5%), reward:risk n/a")


def test_no_colour_means_no_escape_codes():
    for make in (opoco_plan, market_then_oco_plan, trailing_stop_plan, empty_plan):
        assert "\x1b" not in render_text(make(), color=False)


def test_colour_paints_place_green_cancel_red_warnings_yellow():
    text = render_text(opoco_plan(), color=True)
    assert "\x1b[32m  + order list OPOCO" in text
    assert "\x1b[31m  - cancel the unfilled part of slice-1" in text
    assert "\x1b[33m  ! expire_after" in text
    assert ANSI.sub("", text) == render_text(opoco_plan(), color=False)


def test_empty_plan_says_nothing_to_do():
    assert "  (nothing to do)" in render_text(empty_plan(), color=False)


def test_rendering_is_deterministic_and_depends_on_the_plan():
    plan = opoco_plan()
    assert render_text(plan, color=False) == render_text(opoco_plan(), color=False)
    other = replace(plan, namespace="zz9999")
    assert render_text(other, color=False) != render_text(plan, color=False)


@pytest.mark.parametrize("seconds, text", [(43200, "12h"), (90, "90s"), (600, "10m"),
                                           (172800, "2d"), (0, "0s"), (3601, "3601s")])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_step_comments_name_the_step_and_what_it_waits_for():
    lines = render_text(market_then_oco_plan(), color=False).splitlines()
    comments = [line for line in lines if line.startswith("  # ")]
    assert comments == ["  # entry", "  # await-entry (after entry)",
                        "  # exit-1 (after await-entry)"]


def test_protection_line_without_a_stop_says_the_loss_is_not_limited():
    plan = market_then_oco_plan()
    exit_ = plan.actions[-1]
    no_stop = replace(exit_, legs=exit_.legs[:1])
    plan = replace(plan, actions=plan.actions[:-1] + (no_stop,))
    assert "Protection: no stop: the loss is not limited by any order" in render_text(
        plan, color=False).splitlines()
