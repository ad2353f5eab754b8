"""The optional policy fields: entry.on_partial_fill and stop.on_failure (parsed, validated,
carried into the ActionPlan, and left out of the fingerprint while at their defaults)."""

from __future__ import annotations

import pytest

from planrunner.compile import compile_plan, plan_fingerprint
from planrunner.exchanges.base import Capabilities
from planrunner.exchanges.factory import paper_market_context
from planrunner.plan import check_text
from planrunner.plan.model import OnFailure, PartialFill

BASE = """\
version: 1
name: t-plan
symbol: BTCUSDT
side: buy
entry:
  type: limit
  price: 7000
quantity: 0.01
take_profit:
  - price: 7100
    portion: 100%
stop:
  trigger: 6900
  limit: 6890
"""


def _with(entry_extra: str = "", stop_extra: str = "", text: str = BASE) -> str:
    text = text.replace("  price: 7000\n", f"  price: 7000\n{entry_extra}")
    return text.replace("  limit: 6890\n", f"  limit: 6890\n{stop_extra}")


def _messages(text: str) -> list[str]:
    plan, diagnostics = check_text(text, "p.yaml")
    assert plan is None
    return [f"{d.line}:{d.column} {d.message}" for d in diagnostics]


def test_defaults_are_protect_filled_and_exit_market() -> None:
    plan, diagnostics = check_text(BASE, "p.yaml")
    assert diagnostics == [] and plan is not None
    assert plan.entry.on_partial_fill is PartialFill.PROTECT_FILLED
    assert plan.stop is not None and plan.stop.on_failure is OnFailure.EXIT_MARKET


@pytest.mark.parametrize("partial", ["protect_filled", "cancel_remainder", "wait"])
@pytest.mark.parametrize("failure", ["exit_market", "reprice"])
def test_every_policy_value_is_read_and_reaches_the_action_plan(partial: str,
                                                                 failure: str) -> None:
    text = _with(f"  on_partial_fill: {partial}\n", f"  on_failure: {failure}\n")
    plan, diagnostics = check_text(text, "p.yaml")
    assert diagnostics == [] and plan is not None
    compiled = compile_plan(plan, paper_market_context("BTCUSDT"), Capabilities(name="paper"),
                            "abcdef")
    assert (compiled.on_partial_fill, compiled.on_failure) == (partial, failure)


def test_an_unknown_policy_value_is_an_error_at_its_line() -> None:
    messages = _messages(_with("  on_partial_fill: cancel_rest\n"))
    assert len(messages) == 1 and messages[0].startswith("8:")
    assert "cancel_remainder" in messages[0]
    messages = _messages(_with(stop_extra="  on_failure: panic\n"))
    assert len(messages) == 1 and "exit_market" in messages[0]


def test_on_partial_fill_is_refused_on_a_none_entry() -> None:
    text = BASE.replace("  type: limit\n  price: 7000\n",
                        "  type: none\n  cost_basis: 7000\n  on_partial_fill: wait\n")
    messages = _messages(text)
    assert len(messages) == 1 and "on_partial_fill" in messages[0]


def test_the_fingerprint_ignores_policies_left_at_their_default() -> None:
    def fingerprint(text: str) -> str:
        plan, _ = check_text(text, "p.yaml")
        assert plan is not None
        return plan_fingerprint(plan)
    plain = fingerprint(BASE)
    assert fingerprint(_with("  on_partial_fill: protect_filled\n",
                             "  on_failure: exit_market\n")) == plain
    assert fingerprint(_with("  on_partial_fill: wait\n")) != plain
    assert fingerprint(_with(stop_extra="  on_failure: reprice\n")) != plain
