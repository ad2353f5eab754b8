"""Action types: the compiled, ordered form of a plan (ActionPlan) that render shows and the
engine executes. Pure data; no I/O.

Every order-placing action carries its exact Binance request. Values that exist only after the
entry fills (exit prices relative to a market fill, exit quantities net of commission) are
`Deferred` placeholders with an estimate; the engine resolves them from the real fill through
`planrunner.compile.resolve_action` before sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from planrunner.exchanges.base import ExchangeRequest


class ActionKind(StrEnum):
    PLACE_ORDER = "place_order"  # POST /api/v3/order
    PLACE_ORDER_LIST = "place_order_list"  # POST /api/v3/orderList/{oco,oto,otoco,opo,opoco}
    AWAIT_FILL = "await_fill"  # wait until an earlier action's order is filled
    CANCEL = "cancel"  # cancel an earlier action's order or list (e.g. expire_after)


class LegRole(StrEnum):
    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"
    STOP = "stop"
    CLOSE = "close"  # `planrunner cancel --close`: exit the position at market


class Strategy(StrEnum):
    OPOCO = "OPOCO"  # limit entry + exits armed by the exchange, sized net of commission
    OTOCO = "OTOCO"  # limit entry + exits armed by the exchange, sized by planrunner
    OPO = "OPO"  # limit entry + a single exit (only a stop or only a take-profit)
    OTO = "OTO"
    ENTRY_THEN_OCO = "ENTRY_THEN_OCO"  # entry, wait for the fill, then one OCO per slice
    ENTRY_THEN_ORDER = "ENTRY_THEN_ORDER"  # entry, wait, then one exit order per slice
    OCO_NOW = "OCO_NOW"  # entry none: protect a holding right away
    ORDER_NOW = "ORDER_NOW"  # entry none, single exit kind


@dataclass(frozen=True, slots=True)
class Deferred:
    """A request value known only after the entry fill. `spec` is the compiler's own recipe
    (opaque to everyone else); `estimate` is what `plan` shows, marked "(after entry fill)"."""

    name: str  # e.g. "quantity", "abovePrice", "belowStopPrice"
    estimate: Decimal
    spec: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        from planrunner.money import fmt
        return f"~{fmt(self.estimate)} (after entry fill)"


ParamValue = str | Deferred


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """A Binance request whose values may still be Deferred."""

    method: str
    path: str
    params: tuple[tuple[str, ParamValue], ...] = ()

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_concrete(self) -> bool:
        return not any(isinstance(v, Deferred) for _, v in self.params)

    def concrete(self) -> ExchangeRequest:
        if not self.is_concrete:
            missing = ", ".join(k for k, v in self.params if isinstance(v, Deferred))
            raise ValueError(f"request still has values known only after the fill: {missing}")
        return ExchangeRequest(self.method, self.path, tuple((k, str(v)) for k, v in self.params))


@dataclass(frozen=True, slots=True)
class Leg:
    """One order inside an action, as people read it (the request holds the wire form)."""

    role: LegRole
    client_order_id: str
    side: str  # BUY / SELL
    type: str  # LIMIT, LIMIT_MAKER, MARKET, STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT(_LIMIT)
    quantity: Decimal | Deferred | None = None  # None: sized by the exchange (OPO) or by quote
    quote_quantity: Decimal | None = None  # MARKET with quoteOrderQty
    price: Decimal | Deferred | None = None
    stop_price: Decimal | Deferred | None = None
    trailing_delta: int | None = None  # BIPS
    time_in_force: str | None = None
    pending: bool = False  # armed by the exchange only after the working order fills


@dataclass(frozen=True, slots=True)
class Action:
    id: str  # stable step id within the plan, e.g. "entry-1", "await-entry", "exit-2"
    kind: ActionKind
    summary: str  # one line for people
    request: RequestTemplate | None = None  # None for AWAIT_FILL
    client_id: str | None = None  # newClientOrderId or listClientOrderId
    legs: tuple[Leg, ...] = ()
    depends_on: tuple[str, ...] = ()
    wait_for: str | None = None  # AWAIT_FILL / CANCEL: the action whose order it concerns
    after_fill: bool = False  # has Deferred values
    emulated: bool = False  # needs planrunner running (said loudly in plan output)
    delay_s: int | None = None  # CANCEL after expire_after: seconds after the target is placed


@dataclass(frozen=True, slots=True)
class RiskSummary:
    quote_asset: str
    worst_loss: Decimal | None  # quote lost if every stop fills at its limit (None: no stop)
    worst_loss_pct: Decimal | None
    best_gain: Decimal | None  # quote gained if every take-profit fills (None: no take-profit)
    best_gain_pct: Decimal | None
    reward_risk: Decimal | None
    estimated: bool = False  # depends on an entry fill price not known yet


@dataclass(frozen=True, slots=True)
class ActionPlan:
    plan_name: str
    exchange: str
    symbol: str
    side: str  # buy / sell (plan side)
    strategy: Strategy
    strategy_reason: str
    actions: tuple[Action, ...]
    risk: RiskSummary
    fingerprint: str  # sha256 of the plan's meaning (not its formatting)
    namespace: str  # short id mixed into client order ids (from the state lineage)
    last_price: Decimal
    warnings: tuple[str, ...] = field(default=())
    on_partial_fill: str = "protect_filled"  # entry.on_partial_fill (plan/model.PartialFill)
    on_failure: str = "exit_market"  # stop.on_failure (plan/model.OnFailure)
    done: frozenset[str] = frozenset()  # action ids a state already carried out (or sent)

    @property
    def pending_actions(self) -> tuple[Action, ...]:
        """What is still to do: the whole plan minus what the state already did."""
        return tuple(a for a in self.actions if a.id not in self.done)

    def action(self, action_id: str) -> Action:
        for action in self.actions:
            if action.id == action_id:
                return action
        raise KeyError(action_id)

    @property
    def orders_to_place(self) -> int:
        return sum(len(a.legs) for a in self.actions
                   if a.kind in (ActionKind.PLACE_ORDER, ActionKind.PLACE_ORDER_LIST))
