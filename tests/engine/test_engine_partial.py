"""entry.on_partial_fill: an entry that fills partly gets exits for what was filled, when and how
the policy says (exchange-armed lists arm their exits only on a full fill)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine_fakes import RecordingHooks
from engine_scenarios import (LIMIT_ONE_SLICE, LIMIT_ONE_SLICE_EXPIRING, MARKET_BIG, Harness,
                              with_policy)

from planrunner.state import StepStatus

D = Decimal
HALF = D("0.002")
NET_HALF = D("0.00199")  # 0.002 less the 0.1% BTC commission, floored to the step


def _oco(h: Harness, suffix: str) -> dict[str, str]:
    return next(dict(p) for e, p in h.fake.requests if e.endswith("/oco")
                and dict(p)["listClientOrderId"].endswith(suffix))


def test_cancel_remainder_cancels_the_list_and_protects_the_filled_part(tmp_path: Path) -> None:
    plan = with_policy(LIMIT_ONE_SLICE, partial="cancel_remainder")
    h = Harness.build(tmp_path, plan, ("7090",) + ("7150",) * 5)
    h.fake.fill_caps["l1e"] = HALF
    state = h.run(max_polls=8)
    working = h.fake.by_suffix("l1e")
    assert (working.status, working.executed) == ("CANCELED", HALF)
    repair = _oco(h, "-l1r1")
    assert repair["quantity"] == str(NET_HALF)
    assert (repair["abovePrice"], repair["belowStopPrice"]) == ("7300", "7000")
    assert state.step("slice-1-r1").status is StepStatus.PLACED
    assert [d.kind for d in state.drift] == ["partial_fill", "protection"]
    assert state.step("slice-1").cancel_sent_ms is not None


def test_protect_filled_protects_the_filled_part_when_expire_after_ends_it(
        tmp_path: Path) -> None:
    h = Harness.build(tmp_path, LIMIT_ONE_SLICE_EXPIRING, ("7090",) + ("7150",) * 80)
    h.fake.fill_caps["l1e"] = HALF
    hooks = RecordingHooks()
    state = h.run(hooks=hooks, max_polls=100)
    assert state.step("expire-slice-1").status is StepStatus.DONE
    assert _oco(h, "-l1r1")["quantity"] == str(NET_HALF)
    # the cancel was planrunner's own: no drift, only the protection record
    assert [d.kind for d in state.drift] == ["protection"]
    assert hooks.named("drift") == []


def test_protect_filled_cancels_the_rest_before_planrunner_stops_watching(
        tmp_path: Path) -> None:
    h = Harness.build(tmp_path, LIMIT_ONE_SLICE, (), live=True)
    h.fake.fill_caps["l1e"] = HALF
    h.run()  # placed; everything enforced by the exchange; planrunner leaves
    h.fake.path = [D("7090")]
    h.fake.advance()  # half fills while nobody watches
    state = h.run()
    assert h.fake.by_suffix("l1e").status == "CANCELED"
    assert state.step("slice-1-r1").status is StepStatus.PLACED
    assert "about to stop watching" in state.drift[0].action


def test_wait_keeps_watching_and_protects_only_when_the_entry_ends(tmp_path: Path) -> None:
    plan = with_policy(LIMIT_ONE_SLICE, partial="wait")
    h = Harness.build(tmp_path, plan, (), live=True)
    h.fake.fill_caps["l1e"] = HALF
    h.run()
    h.fake.path = [D("7090")]
    h.fake.advance()
    hooks = RecordingHooks()
    state = h.run(hooks=hooks, max_polls=4)
    assert h.fake.by_suffix("l1e").status == "PARTIALLY_FILLED"
    assert len(hooks.named("waiting")) == 4  # did not leave the filled part unwatched
    assert state.drift == ()
    h.fake.cancel_by_hand("l1e")  # the entry ends (here: by hand)
    state = h.run(max_polls=2)
    assert _oco(h, "-l1r1")["quantity"] == str(NET_HALF)
    assert [d.kind for d in state.drift] == ["cancelled", "protection"]


def test_wait_gets_the_exchange_armed_exits_on_a_full_fill(tmp_path: Path) -> None:
    plan = with_policy(LIMIT_ONE_SLICE, partial="wait")
    h = Harness.build(tmp_path, plan, ("7090", "7150", "7090", "7310"))
    h.fake.fill_caps["l1e"] = HALF
    h.fake.on_tick[2] = lambda fake: fake.fill_caps.clear()  # the rest fills later
    state = h.run(max_polls=10)
    assert h.fake.by_suffix("l1e").status == "FILLED"
    assert h.fake.by_suffix("l1tp").status == "FILLED"
    assert state.drift == ()
    assert [s.id for s in state.steps] == ["slice-1"]


def test_a_market_entry_that_expired_partly_filled_gets_exits_for_what_filled(
        tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_BIG, ())
    h.fake.fill_caps["-e"] = D("0.004")
    state = h.run(max_polls=2)
    assert h.fake.by_suffix("-e").status == "EXPIRED"
    net = D("0.004") * (1 - D("0.001"))
    sizes = [D(_oco(h, f"-x{n}")["quantity"]) for n in (1, 2)]
    assert net - D("0.00002") <= sum(sizes) <= net
    assert {state.step(f"exit-{n}").status for n in (1, 2)} == {StepStatus.PLACED}


def test_cancel_remainder_on_a_plain_limit_entry_sizes_the_oco_on_the_filled_part(
        tmp_path: Path) -> None:
    from planrunner.compile import compile_plan
    from planrunner.exchanges.base import Capabilities
    plan = with_policy(LIMIT_ONE_SLICE, partial="cancel_remainder")
    h = Harness.build(tmp_path, plan, ("7090",) + ("7150",) * 5)
    only_oco = Capabilities(name="paper", order_lists=frozenset({"OCO"}))
    h.action_plan = compile_plan(plan, h.fake.market_context("BTCUSDT"), only_oco,
                                 h.state().namespace)
    assert [a.id for a in h.action_plan.actions] == ["entry", "await-entry", "exit-1"]
    h.fake.fill_caps["-e"] = HALF
    state = h.run(max_polls=8)
    assert (h.fake.by_suffix("-e").status, h.fake.by_suffix("-e").executed) == ("CANCELED", HALF)
    assert _oco(h, "-x1")["quantity"] == str(NET_HALF)
    assert state.step("await-entry").status is StepStatus.DONE
    assert [d.kind for d in state.drift] == ["partial_fill"]
