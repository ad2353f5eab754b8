"""Crash injection over every exchange call: crash at call N (before or after it executes), then
resume with a fresh Engine on the same state file and exchange. The exchange must end with
exactly the orders an uninterrupted run places (no client id created twice, none missing), and
every step must end done."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from engine_fakes import FaultyExchange, SimulatedCrash
from engine_scenarios import (LIMIT_OPOCO, LIMIT_OPOCO_PATH, MARKET_OCO, MARKET_OCO_PATH,
                              Harness)

from planrunner.state import StepStatus

def _cancel_stop_by_hand(fake) -> None:
    fake.on_tick[2] = lambda f: f.cancel_by_hand("x1sl")  # a repair placement mid-run


SCENARIOS = {
    "market+await+2 OCO": (MARKET_OCO, MARKET_OCO_PATH, None),
    "OPOCO limit slices": (LIMIT_OPOCO, LIMIT_OPOCO_PATH, None),
    "drift repaired": (MARKET_OCO, MARKET_OCO_PATH, _cancel_stop_by_hand),
}


def _build(folder: Path, scenario: str) -> Harness:
    plan, path, setup = SCENARIOS[scenario]
    h = Harness.build(folder, plan, path)
    if setup is not None:
        setup(h.fake)
    return h


def _placed(fake) -> list[tuple[str, str, str, str, str]]:
    """What the exchange holds, comparable across runs (ids and timing aside)."""
    return sorted((o.client_order_id, o.side, o.type, str(o.qty), str(o.price))
                  for o in fake.orders)


def _reference(tmp_path: Path, scenario: str) -> tuple[list, list[str], int]:
    h = _build(tmp_path / "reference", scenario)
    counting = FaultyExchange(h.fake)
    state = h.run(counting)
    assert {s.status for s in state.steps} == {StepStatus.DONE}
    repaired = any(cid.endswith("-x1r1") for cid in h.fake.accepted)
    assert repaired == (scenario == "drift repaired")
    return _placed(h.fake), sorted(h.fake.accepted), len(counting.calls)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_crash_at_every_exchange_call_then_resume(tmp_path: Path, scenario: str,
                                                  when: str) -> None:
    expected_orders, expected_ids, calls = _reference(tmp_path, scenario)
    assert calls > 10
    for n in range(1, calls + 1):
        h = _build(tmp_path / f"{when}-{n}", scenario)
        with pytest.raises(SimulatedCrash):
            h.run(FaultyExchange(h.fake, {n: (when, SimulatedCrash(f"call {n}"))}))
        state = h.run()
        where = f"{scenario}: crash {when} call {n}"
        assert [cid for cid, k in Counter(h.fake.accepted).items() if k > 1] == [], where
        assert sorted(h.fake.accepted) == expected_ids, where
        assert _placed(h.fake) == expected_orders, where
        assert {s.id: s.status for s in state.steps} == {
            s.id: StepStatus.DONE for s in state.steps}, where
        assert h.store.load() == state, where


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_two_crashes_in_a_row_still_converge(tmp_path: Path, scenario: str) -> None:
    expected_orders, expected_ids, calls = _reference(tmp_path, scenario)
    for n in range(1, calls, 3):
        h = _build(tmp_path / f"twice-{n}", scenario)
        with pytest.raises(SimulatedCrash):
            h.run(FaultyExchange(h.fake, {n: ("after", SimulatedCrash())}))
        with pytest.raises(SimulatedCrash):
            h.run(FaultyExchange(h.fake, {2: ("before", SimulatedCrash())}))
        state = h.run()
        assert sorted(h.fake.accepted) == expected_ids, n
        assert _placed(h.fake) == expected_orders, n
        assert {s.status for s in state.steps} == {StepStatus.DONE}, n
