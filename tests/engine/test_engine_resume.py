"""Resuming: interrupted runs leave a consistent state file; re-running reconciles first."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from engine_fakes import FaultyExchange, RecordingHooks, SimulatedCrash
from engine_scenarios import (LIMIT_OPOCO, LIMIT_OPOCO_PATH, MARKET_OCO, MARKET_OCO_PATH,
                              Harness)

from planrunner.state import StepStatus


def _interrupt(status: dict) -> None:
    raise KeyboardInterrupt


def test_keyboard_interrupt_while_waiting_leaves_orders_and_a_resumable_state(
        tmp_path: Path) -> None:
    h = Harness.build(tmp_path, LIMIT_OPOCO, LIMIT_OPOCO_PATH)
    with pytest.raises(KeyboardInterrupt):
        h.run(hooks=RecordingHooks(on_wait=_interrupt))
    on_disk = h.store.load()
    assert {s.status for s in on_disk.steps} == {StepStatus.PLACED}
    working = [o for o in h.fake.orders if o.status == "NEW"]
    assert len(working) == 2  # the working legs stay on the exchange
    state = h.run()
    assert {s.status for s in state.steps} == {StepStatus.DONE}
    assert len(h.fake.accepted) == len(set(h.fake.accepted)) == 8


def test_resume_adopts_an_order_sent_just_before_a_crash(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    with pytest.raises(SimulatedCrash):
        h.run(FaultyExchange(h.fake, method_faults={("submit", 1): ("after", SimulatedCrash())}))
    assert h.store.load().step("entry").status is StepStatus.SENDING
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    assert any("found" in n and "adopted" in n for n in hooks.named("note"))
    assert state.step("entry").attempts == 1
    assert {s.status for s in state.steps} == {StepStatus.DONE}
    assert Counter(h.fake.accepted).most_common(1)[0][1] == 1


def test_resume_resends_an_order_that_never_left_with_the_same_client_id(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    with pytest.raises(SimulatedCrash):
        h.run(FaultyExchange(h.fake, method_faults={("submit", 2): ("before", SimulatedCrash())}))
    on_disk = h.store.load()
    sending = [s for s in on_disk.steps if s.status is StepStatus.SENDING]
    assert [s.id for s in sending] == ["exit-1"]
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    assert any("never reached the exchange" in n for n in hooks.named("note"))
    assert state.step("exit-1").client_id == sending[0].client_id
    assert state.step("exit-1").request == sending[0].request  # resent verbatim
    assert {s.status for s in state.steps} == {StepStatus.DONE}
    assert len(h.fake.accepted) == len(set(h.fake.accepted)) == 7


def test_resume_with_a_state_from_disk_of_a_finished_entry_does_not_rebuy(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    with pytest.raises(SimulatedCrash):
        h.run(FaultyExchange(h.fake, method_faults={("submit", 2): ("after", SimulatedCrash())}))
    state = h.run()
    entries = [cid for cid in h.fake.accepted if cid.endswith("-e")]
    assert len(entries) == 1
    assert {s.status for s in state.steps} == {StepStatus.DONE}
