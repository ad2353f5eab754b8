"""`plan --verify`: ask the exchange itself to validate every order of the plan through
POST /api/v3/order/test (filters, symbol rules, signature, permissions) without placing anything.

Order lists have no test endpoint, so each leg is tested as the single order it becomes on the
exchange; values known only after the entry fill are tested at their estimate. The test endpoint
cannot see everything: "would trigger immediately" and balances are engine-side checks, so a
passing verify is necessary, not sufficient (the output says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from planrunner.actions import Action, ActionKind, ActionPlan, Deferred, Leg
from planrunner.errors import ExchangeError
from planrunner.exchanges.base import ExchangeRequest, MarketContext
from planrunner.money import fmt
from planrunner.sizing import floor_qty

PLACING = (ActionKind.PLACE_ORDER, ActionKind.PLACE_ORDER_LIST)


@dataclass(frozen=True, slots=True)
class LegCheck:
    action_id: str
    client_order_id: str
    description: str
    error: str | None  # None: the exchange accepted it


def _value(value: Decimal | Deferred | None) -> Decimal | None:
    return value.estimate if isinstance(value, Deferred) else value


def _quantity(leg: Leg, action: Action, market: MarketContext) -> Decimal | None:
    """A pending OPO leg has no quantity: the exchange sizes it from what the working order
    received, which is the working quantity net of commission."""
    qty = _value(leg.quantity)
    if qty is not None or leg.quote_quantity is not None:
        return qty
    working = next((_value(l.quantity) for l in action.legs if not l.pending), None)
    if working is None:
        return None
    return floor_qty(working * (1 - market.commission.taker), market.rules.step_size)


def leg_request(symbol: str, leg: Leg, action: Action, market: MarketContext) -> ExchangeRequest:
    params: list[tuple[str, str]] = [("symbol", symbol), ("side", leg.side), ("type", leg.type)]
    qty = _quantity(leg, action, market)
    if leg.quote_quantity is not None:
        params.append(("quoteOrderQty", fmt(leg.quote_quantity)))
    elif qty is not None:
        params.append(("quantity", fmt(qty)))
    for name, value in (("price", _value(leg.price)), ("stopPrice", _value(leg.stop_price))):
        if value is not None:
            params.append((name, fmt(value)))
    if leg.trailing_delta is not None:
        params.append(("trailingDelta", str(leg.trailing_delta)))
    if leg.time_in_force:
        params.append(("timeInForce", leg.time_in_force))
    params.append(("newClientOrderId", leg.client_order_id))
    return ExchangeRequest("POST", "/api/v3/order", tuple(params))


def describe(request: ExchangeRequest) -> str:
    p = request.as_dict()
    price = f" @ {p['price']}" if "price" in p else ""
    stop = f" stop {p['stopPrice']}" if "stopPrice" in p else ""
    stop += f" trailing {p['trailingDelta']} bips" if "trailingDelta" in p else ""
    qty = p.get("quantity") or f"{p.get('quoteOrderQty')} (quote)"
    return f"{p['type']} {p['side']} {qty}{price}{stop}"


def verify(action_plan: ActionPlan, exchange, market: MarketContext) -> list[LegCheck]:
    checks = []
    for action in action_plan.actions:
        if action.kind not in PLACING:
            continue
        for leg in action.legs:
            request = leg_request(action_plan.symbol, leg, action, market)
            try:
                exchange.test_order(request)
                error = None
            except ExchangeError as exc:
                error = str(exc)
            checks.append(LegCheck(action.id, leg.client_order_id, describe(request), error))
    return checks


def render(checks: list[LegCheck], venue: str) -> str:
    lines = [f"Verified with {venue} (POST /api/v3/order/test, nothing placed):"]
    for c in checks:
        verdict = "ok" if c.error is None else f"REJECTED: {c.error}"
        lines.append(f"  {c.action_id:<10} {c.client_order_id:<34} {c.description}: {verdict}")
    failed = sum(1 for c in checks if c.error)
    lines.append(f"Verify: {len(checks) - failed} of {len(checks)} orders accepted. The test "
                 "endpoint does not check balances or whether a stop would trigger immediately.")
    return "\n".join(lines)


def verify_on(action_plan: ActionPlan) -> list[LegCheck]:
    """Open the plan's exchange and verify. A paper account that does not exist yet is not
    created: the check runs on a throwaway account (same rules and opening prices)."""
    import tempfile
    from pathlib import Path

    from planrunner.exchanges.factory import open_exchange, open_paper_exchange
    from planrunner.exchanges.paper.store import default_account_path

    if action_plan.exchange != "paper" or default_account_path().is_file():
        exchange, _ = open_exchange(action_plan.exchange)
        return verify(action_plan, exchange, exchange.market_context(action_plan.symbol))
    with tempfile.TemporaryDirectory() as scratch:
        exchange = open_paper_exchange(Path(scratch) / "account.json")
        return verify(action_plan, exchange, exchange.market_context(action_plan.symbol))
