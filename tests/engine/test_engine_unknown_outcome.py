"""Unknown outcomes and flaky reads: look up by client id, never re-send blindly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from engine_fakes import FaultyExchange, RecordingHooks
from engine_scenarios import (LIMIT_OPOCO, LIMIT_OPOCO_PATH, MARKET_OCO, MARKET_OCO_PATH,
                              Harness)

from planrunner.errors import OrderNotFound, OutcomeUnknown, RateLimited, TransientError
from planrunner.state import StepStatus


def _unknown() -> OutcomeUnknown:
    return OutcomeUnknown("Timeout waiting for response from backend server. Send status "
                          "unknown; execution status unknown.", code=-1007)


def _all_done(state) -> bool:
    return all(s.status is StepStatus.DONE for s in state.steps)


def _no_duplicates(fake) -> None:
    counts = Counter(fake.accepted)
    assert [cid for cid, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("submit_no", [1, 2, 3])
def test_unknown_outcome_after_the_order_was_created_adopts_it(tmp_path: Path,
                                                                 submit_no: int) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    faulty = FaultyExchange(h.fake, method_faults={("submit", submit_no): ("after", _unknown())})
    hooks = RecordingHooks()
    state = h.run(faulty, hooks)
    assert _all_done(state)
    _no_duplicates(h.fake)
    assert len(h.fake.accepted) == 7
    assert any("outcome of sending" in n for n in hooks.named("note"))
    assert all(s.attempts <= 1 for s in state.steps)


@pytest.mark.parametrize("submit_no", [1, 2])
def test_unknown_outcome_of_an_order_never_created_resends_the_same_client_id(
        tmp_path: Path, submit_no: int) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    faulty = FaultyExchange(h.fake, method_faults={("submit", submit_no): ("before", _unknown())})
    state = h.run(faulty)
    assert _all_done(state)
    _no_duplicates(h.fake)
    assert len(h.fake.accepted) == 7
    resent = [s for s in state.steps if s.attempts == 2]
    assert len(resent) == 1
    # absence is proven by two look-ups a back-off apart before the second send
    assert faulty.calls.count("query_order") + faulty.calls.count("query_order_list") >= 2


def test_an_order_invisible_at_first_is_found_on_the_second_lookup(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    faulty = FaultyExchange(h.fake, method_faults={
        ("submit", 1): ("after", _unknown()),
        ("query_order", 1): ("before", OrderNotFound("Order does not exist.", code=-2013))})
    state = h.run(faulty)
    assert _all_done(state)
    assert state.step("entry").attempts == 1
    _no_duplicates(h.fake)


def test_unknown_outcome_of_an_order_list_is_resolved_by_list_lookup(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, LIMIT_OPOCO, LIMIT_OPOCO_PATH)
    faulty = FaultyExchange(h.fake, method_faults={("submit", 2): ("after", _unknown())})
    state = h.run(faulty)
    assert _all_done(state)
    assert "query_order_list" in faulty.calls
    _no_duplicates(h.fake)
    assert state.step("slice-2").order_list_id == h.fake.lists[state.step("slice-2").client_id][0]


def test_transient_read_errors_are_retried_with_growing_back_off(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    flaky = {("query_order", n): ("before", TransientError("Internal error; unable to process "
                                                           "your request.", code=-1001))
             for n in (1, 2, 3)}
    flaky[("submit", 1)] = ("after", _unknown())
    faulty = FaultyExchange(h.fake, method_faults=flaky)
    state = h.run(faulty)
    assert _all_done(state)
    assert h.clock.sleeps[:3] == [0.5, 1.0, 2.0]  # before any poll: only back-off sleeps


def test_rate_limit_honours_retry_after(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    faulty = FaultyExchange(h.fake, method_faults={
        ("last_price", 1): ("before", RateLimited("Too many requests.", code=-1003,
                                                  retry_after=7, http_status=429))})
    state = h.run(faulty)
    assert _all_done(state)
    assert 7 in h.clock.sleeps


def test_reads_that_keep_failing_stop_the_run_resumably(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    down = {("query_order", n): ("before", TransientError("Service unavailable", http_status=503))
            for n in range(1, 50)}
    down[("submit", 1)] = ("after", _unknown())
    with pytest.raises(TransientError):
        h.run(FaultyExchange(h.fake, method_faults=down))
    on_disk = h.store.load()
    assert on_disk.step("entry").status is StepStatus.SENDING
    state = h.run()
    assert _all_done(state)
    _no_duplicates(h.fake)
    assert len(h.fake.accepted) == 7
