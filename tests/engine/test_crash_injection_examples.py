"""Crash injection over every example plan (plans/examples/*.yaml) on the real paper exchange
(issue 3): a crash before or after exchange call N, then a resume by a new "process" (a fresh
Engine over a freshly reopened paper account and state file), to the same end as an
uninterrupted run. The paper account must then hold exactly the orders the uninterrupted run
placed (no client id accepted twice, none missing, each with the same side, type, quantity,
price and stop price), every step must end as it did (done; or, for the two examples that
cannot finish on their feed, the same waiting states at the same market hour), and the state
file must read back as the state the run returned.

Which crashes: a resumed process sees only what the crash left on disk (the paper account and
the state file; market time is in the account), so two crashes that leave the same bytes resume
identically. The uninterrupted run records those bytes before and after every call; of each
set of crash moments that leave the same bytes, the first is tested (the test checks the crash
really left them). That keeps every crash after a write (submit, cancel) and every crash right
after the engine saved progress (sending, placed, a fill seen, a step finished). What remains are
crashes in the waits whose only difference is market time (a poll moved the paper market);
WAIT_SAMPLES of those are tested, spread over the run. Short examples (at most EXHAUSTIVE_CALLS
calls) are tested at every call, before and after, without this reduction, which also checks it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from engine_fakes import SimulatedCrash
from examples_harness import ExampleRun, RunResult, example_names, orders

from planrunner.state import StepStatus

HOURS = 120  # market hours an uninterrupted run may take to complete (the slowest takes 58)
# Examples that do not complete within HOURS on their feed (the seed-0 walk for ETHUSDT never
# breaks out to 132; the short's entry at 131.5 is never followed by a fall through both
# targets). They are compared when the market reaches this hour instead.
BOUNDED_HOURS = {"eth-breakout": 24, "eth-short-sell": 24}
WAIT_SAMPLES = 6
EXHAUSTIVE_CALLS = 20
WRITES = ("submit", "cancel_order", "cancel_order_list")

Moment = tuple[str, int]  # ("before" | "after", call number from 1)


def _example_id(name: str) -> str:
    return f"{name}-bounded{BOUNDED_HOURS[name]}h" if name in BOUNDED_HOURS else f"{name}-done"


def crash_moments(result: RunResult) -> list[Moment]:
    """The crash moments to test for an uninterrupted run (see the module docstring)."""
    calls = result.call_names
    if len(calls) <= EXHAUSTIVE_CALLS:
        return [(when, n) for n in range(1, len(calls) + 1) for when in ("before", "after")]
    acting: list[Moment] = []
    waiting: list[Moment] = []
    seen: set[tuple[bytes | None, ...]] = set()
    state_file: bytes | None = None
    for moment, disk in result.on_disk:
        if disk in seen:
            continue
        seen.add(disk)
        when, n = moment
        only_the_market_moved = (disk[1] == state_file and when == "before"
                                 and calls[n - 1] not in WRITES)
        (waiting if only_the_market_moved else acting).append(moment)
        state_file = disk[1]
    if len(waiting) > WAIT_SAMPLES:
        last = len(waiting) - 1
        waiting = [waiting[i * last // (WAIT_SAMPLES - 1)] for i in range(WAIT_SAMPLES)]
    return sorted(acting + waiting, key=lambda m: (m[1], m[0] == "after"))


class Reference:
    def __init__(self, folder: Path, name: str):
        result = ExampleRun.create(folder, name).run(BOUNDED_HOURS.get(name, HOURS), watch=True)
        self.calls = result.call_names
        self.moments = crash_moments(result)
        self.on_disk = {m: disk for m, disk in result.on_disk if m in self.moments}
        self.orders = orders(result.paper)
        self.market_ms = result.paper.market_time_ms
        self.statuses = {s.id: s.status for s in result.state.steps}
        done = all(s is StepStatus.DONE for s in self.statuses.values())
        # an example that starts (or stops) completing within the bound must update this file
        assert done == (name not in BOUNDED_HOURS), (name, self.statuses)
        assert self.orders, name


_REFERENCES: dict[str, Reference] = {}


def _reference(tmp_path_factory: pytest.TempPathFactory, name: str) -> Reference:
    if name not in _REFERENCES:
        _REFERENCES[name] = Reference(tmp_path_factory.mktemp(f"reference-{name}"), name)
    return _REFERENCES[name]


@pytest.mark.slow
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("name", example_names(), ids=_example_id)
def test_crash_at_exchange_calls_then_resume(tmp_path: Path,
                                             tmp_path_factory: pytest.TempPathFactory,
                                             name: str, when: str) -> None:
    ref = _reference(tmp_path_factory, name)
    hours = BOUNDED_HOURS.get(name, HOURS)
    ns = [n for w, n in ref.moments if w == when]
    assert ns, name  # every example reads first (before) and submits (after)
    for n in ns:
        where = f"{name}: crash {when} call {n} ({ref.calls[n - 1]})"
        run = ExampleRun.create(tmp_path / f"{when}-{n}", name)
        with pytest.raises(SimulatedCrash):
            run.run(hours, fault=(n, (when, SimulatedCrash(where))))
        assert run.on_disk() == ref.on_disk[(when, n)], f"{where}: not the crash recorded"
        result = run.run(hours)
        placed = orders(result.paper)
        ids = Counter(cid for cid, *_ in placed)
        assert [cid for cid, k in ids.items() if k > 1] == [], where
        assert sorted(ids) == sorted(cid for cid, *_ in ref.orders), where
        assert placed == ref.orders, where
        assert {s.id: s.status for s in result.state.steps} == ref.statuses, where
        if name in BOUNDED_HOURS:
            assert result.paper.market_time_ms == ref.market_ms, where
        assert run.store.load() == result.state, where
