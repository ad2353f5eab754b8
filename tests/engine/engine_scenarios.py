"""Plans and price paths the engine tests run, compiled by the real compiler, plus a harness
that wires an Engine to a FakeExchange and a StateStore in a temporary folder."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine_fakes import FakeExchange, RecordingClock, RecordingHooks

from planrunner.actions import ActionPlan
from planrunner.compile import compile_plan, plan_fingerprint, resolve_action
from planrunner.engine import Engine
from planrunner.exchanges.base import Capabilities
from planrunner.plan.model import (Entry, EntryType, PriceExpr, PriceKind, Side, Size, SizeKind,
                                   Stop, StopType, TakeProfit, TradePlan)
from planrunner.reconcile import RetryPolicy
from planrunner.state import State, StateStore, new_state

D = Decimal
LINEAGE = "00000000-0000-4000-8000-000000000001"


def _abs(text: str) -> PriceExpr:
    return PriceExpr(PriceKind.ABSOLUTE, D(text))


def _pct(text: str) -> PriceExpr:
    return PriceExpr(PriceKind.PERCENT, D(text))


def _plan(entry: Entry, tps: tuple[TakeProfit, ...], stop: Stop | None,
          qty: str = "0.002") -> TradePlan:
    return TradePlan(version=1, name="btc-test", exchange="paper", symbol="BTCUSDT",
                     side=Side.BUY, entry=entry, size=Size(SizeKind.QUANTITY, D(qty)),
                     take_profits=tps, stop=stop)


MARKET_OCO = _plan(Entry(EntryType.MARKET),
                   (TakeProfit(_pct("2"), D(50)), TakeProfit(_pct("4"), D(50))),
                   Stop(_pct("-2"), _pct("-0.3"), StopType.LIMIT))
# up through both take-profits (7195.24 +2% ~ 7339, +4% ~ 7483)
MARKET_OCO_PATH = ("7200", "7260", "7345", "7400", "7490", "7500")

LIMIT_OPOCO = _plan(Entry(EntryType.LIMIT, price=_abs("7100")),
                    (TakeProfit(_abs("7300"), D(50)), TakeProfit(_abs("7400"), D(50))),
                    Stop(_abs("7000"), _pct("-0.3"), StopType.LIMIT))
# down to the entry, then up through both take-profits
LIMIT_OPOCO_PATH = ("7150", "7090", "7200", "7310", "7410", "7420")

LIMIT_EXPIRING = _plan(Entry(EntryType.LIMIT, price=_abs("7100"), expire_after_s=60),
                       (TakeProfit(_abs("7300"), D(100)),),
                       Stop(_abs("7000"), _pct("-0.3"), StopType.LIMIT), qty="0.001")


def compiled(plan: TradePlan, namespace: str, fake: FakeExchange) -> ActionPlan:
    return compile_plan(plan, fake.market_context(plan.symbol), Capabilities(name="paper"),
                        namespace)


def fresh_state(plan: TradePlan) -> State:
    return new_state(plan_name=plan.name, plan_fingerprint=plan_fingerprint(plan),
                     exchange="paper", symbol=plan.symbol, lineage=LINEAGE)


def _no_fsync(fd: int) -> None:
    """Crash tests run hundreds of plans; durability itself is tested in tests/state."""


@dataclass
class Harness:
    plan: TradePlan
    fake: FakeExchange
    store: StateStore
    clock: RecordingClock
    action_plan: ActionPlan

    @classmethod
    def build(cls, folder: Path, plan: TradePlan, path: tuple[str, ...], *,
              live: bool = False) -> Harness:
        folder.mkdir(parents=True, exist_ok=True)
        fake = FakeExchange(path=path, live=live)
        state = fresh_state(plan)
        store = StateStore(folder / "plan.state.json", fsync=_no_fsync)
        return cls(plan, fake, store, RecordingClock(), compiled(plan, state.namespace, fake))

    def engine(self, exchange: Any = None, hooks: Any = None, **kw: Any) -> Engine:
        kw.setdefault("max_polls", 50)
        kw.setdefault("retry", RetryPolicy(initial_s=0.5, maximum_s=4))
        return Engine(exchange or self.fake, self.store, self.clock, resolve_action,
                      hooks or RecordingHooks(), tick=self.fake.advance, poll_interval_s=1,
                      **kw)

    def state(self) -> State:
        return self.store.load() or fresh_state(self.plan)

    def run(self, exchange: Any = None, hooks: Any = None, *, follow: bool = False,
            **kw: Any) -> State:
        return self.engine(exchange, hooks, **kw).run(self.action_plan, self.state(),
                                                     follow=follow)


def with_policy(plan: TradePlan, *, partial: str | None = None,
                failure: str | None = None) -> TradePlan:
    """The plan with entry.on_partial_fill and / or stop.on_failure set."""
    from planrunner.plan.model import OnFailure, PartialFill
    if partial is not None:
        plan = dataclasses.replace(plan, entry=dataclasses.replace(
            plan.entry, on_partial_fill=PartialFill(partial)))
    if failure is not None and plan.stop is not None:
        plan = dataclasses.replace(plan, stop=dataclasses.replace(
            plan.stop, on_failure=OnFailure(failure)))
    return plan


# one OPOCO slice big enough that half of it is still over the minimum notional
LIMIT_ONE_SLICE = _plan(Entry(EntryType.LIMIT, price=_abs("7100")),
                        (TakeProfit(_abs("7300"), D(100)),),
                        Stop(_abs("7000"), _pct("-0.3"), StopType.LIMIT), qty="0.004")
LIMIT_ONE_SLICE_EXPIRING = dataclasses.replace(
    LIMIT_ONE_SLICE, entry=Entry(EntryType.LIMIT, price=_abs("7100"), expire_after_s=60))
MARKET_BIG = dataclasses.replace(MARKET_OCO, size=Size(SizeKind.QUANTITY, D("0.01")))
