"""Runs an example plan (plans/examples/*.yaml) on the real paper exchange the way `apply` does,
one "process" at a time: each run reopens the paper account and the state file from disk, so a
run that dies mid-way (SimulatedCrash from engine_fakes.FaultyExchange) leaves exactly what a
killed process leaves, and the next run resumes from it.

Time: nothing sleeps (ManualClock). The paper market is opened with speed 0 and each engine
poll (`tick`) moves it exactly one hour, never past the run's horizon: market time then sits on
the same grid in every run, however many polls or retry sleeps a crash and a resume add, so
"the market ran until hour H" is an end condition every resume can reach exactly. The engine
reads the paper market's time (factory.MarketTimeClock), like `apply` on paper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine_fakes import Fault, FaultyExchange

from planrunner.clock import ManualClock
from planrunner.commands.apply import _compile_market  # what apply does on resume
from planrunner.compile import compile_plan, plan_fingerprint, resolve_action
from planrunner.engine import Engine
from planrunner.exchanges.base import OrderSnapshot
from planrunner.exchanges.factory import MarketTimeClock, open_paper_exchange
from planrunner.exchanges.paper.exchange import PaperExchange
from planrunner.plan import load_plan
from planrunner.plan.model import TradePlan
from planrunner.state import State, StateStore, new_state

EXAMPLES = Path(__file__).resolve().parents[2] / "plans" / "examples"
LINEAGE = "00000000-0000-4000-8000-0000000000e1"
HOUR_MS = 3_600_000  # how far one engine poll moves the paper market


def _no_fsync(fd: int) -> None:
    """Hundreds of runs; durability itself is tested in tests/state."""


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.yaml"))


Disk = tuple[bytes | None, ...]  # the paper account's and the state file's bytes


class WatchingExchange(FaultyExchange):
    """FaultyExchange that can also note what a crash before and after each call would leave on
    disk: the only thing a resumed process sees."""

    def __init__(self, inner: Any, faults: dict[int, Fault] | None,
                 disk: Callable[[], Disk] | None):
        self.disk = disk
        self.on_disk: list[tuple[tuple[str, int], Disk]] = []
        super().__init__(inner, faults)

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        counted = super()._wrap(name, fn)
        if self.disk is None:
            return counted

        def call(*args: Any, **kwargs: Any) -> Any:
            assert self.disk is not None
            n = len(self.calls) + 1
            self.on_disk.append((("before", n), self.disk()))
            result = counted(*args, **kwargs)
            self.on_disk.append((("after", n), self.disk()))
            return result
        return call


@dataclass
class RunResult:
    state: State
    paper: PaperExchange
    call_names: list[str]  # the exchange protocol calls the engine made, in order
    on_disk: list[tuple[tuple[str, int], Disk]]  # with watch=True: per crash moment


@dataclass
class ExampleRun:
    """One example plan's paper account and state file in `folder`, run process by process."""

    folder: Path
    plan: TradePlan
    wall: ManualClock = field(default_factory=ManualClock)

    @classmethod
    def create(cls, folder: Path, name: str) -> ExampleRun:
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, load_plan(str(EXAMPLES / f"{name}.yaml")))

    @property
    def store(self) -> StateStore:
        return StateStore(self.folder / "state.json", fsync=_no_fsync)

    def on_disk(self) -> Disk:
        """What a process leaves behind."""
        return tuple(f.read_bytes() if f.exists() else None
                     for f in (self.folder / "account.json", self.folder / "state.json"))

    def open_paper(self) -> PaperExchange:
        return open_paper_exchange(path=self.folder / "account.json", clock=self.wall, speed=0)

    def run(self, hours: int, fault: tuple[int, Fault] | None = None, *,
            watch: bool = False) -> RunResult:
        """One process: reopen everything, compile like apply, run the engine until the plan
        completes or the market reaches hour `hours` of the feed. A fault makes the Nth exchange
        call raise (before or after the paper exchange executed and saved it); watch records
        what a crash before and after each call would leave on disk."""
        paper = self.open_paper()
        horizon = paper.feed.start_ms + hours * HOUR_MS

        def tick() -> None:
            paper.advance(min(paper.market_time_ms + HOUR_MS, horizon))

        store = self.store
        plan = self.plan
        state = store.load() or new_state(
            plan_name=plan.name, plan_fingerprint=plan_fingerprint(plan), exchange=plan.exchange,
            symbol=plan.symbol, lineage=LINEAGE)
        state, market = _compile_market(state, paper.market_context(plan.symbol))
        action_plan = compile_plan(plan, market, paper.capabilities(), state.namespace)
        counting = WatchingExchange(paper, dict([fault]) if fault else None,
                                    self.on_disk if watch else None)
        engine = Engine(counting, store, MarketTimeClock(paper, self.wall), resolve_action,
                        tick=tick, poll_interval_s=1,
                        max_polls=(horizon - paper.market_time_ms) // HOUR_MS)
        final = engine.run(action_plan, state, follow=False)
        return RunResult(final, paper, counting.calls, counting.on_disk)


def order_key(o: OrderSnapshot) -> tuple[str, str, str, str, str, str]:
    """An order as comparable across runs: what was asked for, not when or at which id."""
    return (o.client_order_id, o.side, o.type, str(o.orig_qty), str(o.price), str(o.stop_price))


def orders(paper: Any) -> list[tuple[str, str, str, str, str, str]]:
    return sorted(order_key(o) for o in paper.all_orders())
