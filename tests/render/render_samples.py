"""Hand-built ActionPlans for the render tests (the compiler is tested on its own)."""

from __future__ import annotations

from decimal import Decimal as D

from planrunner.actions import (Action, ActionKind, ActionPlan, Deferred, Leg, LegRole,
                                RequestTemplate, RiskSummary, Strategy)

OPOCO_PATH = "/api/v3/orderList/opoco"


def _slice(n: int, qty: str, tp: str) -> Action:
    cid = f"btc-test00-l{n}"
    legs = (
        Leg(LegRole.ENTRY, f"btc-test00-e{n}", "BUY", "LIMIT", D(qty), price=D("7000"),
            time_in_force="GTC"),
        Leg(LegRole.TAKE_PROFIT, f"btc-test00-e{n}tp", "SELL", "LIMIT_MAKER", None,
            price=D(tp), pending=True),
        Leg(LegRole.STOP, f"btc-test00-e{n}sl", "SELL", "STOP_LOSS_LIMIT", None,
            price=D("6790"), stop_price=D("6800"), time_in_force="GTC", pending=True),
    )
    params = (("symbol", "BTCUSDT"), ("listClientOrderId", cid), ("workingType", "LIMIT"),
              ("workingSide", "BUY"), ("workingPrice", "7000"), ("workingQuantity", qty),
              ("pendingAbovePrice", tp), ("pendingBelowStopPrice", "6800"))
    return Action(f"slice-{n}", ActionKind.PLACE_ORDER_LIST, f"entry slice {n} with its exits",
                  RequestTemplate("POST", OPOCO_PATH, params), client_id=cid, legs=legs)


def opoco_plan(*, with_expiry: bool = True) -> ActionPlan:
    actions = [_slice(1, "0.0005", "7300"), _slice(2, "0.0005", "7500")]
    if with_expiry:
        actions.append(Action("expire-slice-1", ActionKind.CANCEL, "cancel unfilled entry",
                              RequestTemplate("DELETE", "/api/v3/orderList",
                                              (("symbol", "BTCUSDT"),
                                               ("listClientOrderId", "btc-test00-l1"))),
                              depends_on=("slice-1",), wait_for="slice-1", emulated=True,
                              delay_s=43200))
    risk = RiskSummary("USDT", D("0.21"), D("3.0"), D("0.4"), D("5.714285714"), D("1.904761905"))
    return ActionPlan("btc", "paper", "BTCUSDT", "buy", Strategy.OPOCO,
                      "exits armed by the exchange: protected even while planrunner is not running",
                      tuple(actions), risk, "ab" * 32, "test00", D("7195.24"),
                      warnings=("expire_after needs planrunner running",))


def market_then_oco_plan() -> ActionPlan:
    entry = Action("entry", ActionKind.PLACE_ORDER, "buy at market",
                   RequestTemplate("POST", "/api/v3/order",
                                   (("symbol", "ETHUSDT"), ("side", "BUY"), ("type", "MARKET"),
                                    ("quoteOrderQty", "100"), ("newClientOrderId", "eth-x-e1"))),
                   client_id="eth-x-e1",
                   legs=(Leg(LegRole.ENTRY, "eth-x-e1", "BUY", "MARKET", None,
                             quote_quantity=D("100")),))
    wait = Action("await-entry", ActionKind.AWAIT_FILL, "wait for the entry fill",
                  depends_on=("entry",), wait_for="entry")
    qty = Deferred("quantity", D("0.7685"))
    tp = Deferred("abovePrice", D("133.9"))
    exit_ = Action("exit-1", ActionKind.PLACE_ORDER_LIST, "protect the position",
                   RequestTemplate("POST", "/api/v3/orderList/oco",
                                   (("symbol", "ETHUSDT"), ("quantity", qty), ("abovePrice", tp),
                                    ("listClientOrderId", "eth-x-l1"))),
                   client_id="eth-x-l1", depends_on=("await-entry",), after_fill=True,
                   legs=(Leg(LegRole.TAKE_PROFIT, "eth-x-l1tp", "SELL", "LIMIT_MAKER", qty,
                             price=tp),
                         Leg(LegRole.STOP, "eth-x-l1sl", "SELL", "STOP_LOSS", qty,
                             stop_price=Deferred("belowStopPrice", D("127.4")))))
    risk = RiskSummary("USDT", D("2.1234"), D("2.12"), D("3"), D("3"), D("1.41"), estimated=True)
    return ActionPlan("eth", "paper", "ETHUSDT", "buy", Strategy.ENTRY_THEN_OCO,
                      "market entry: exits are placed by planrunner after the fill",
                      (entry, wait, exit_), risk, "cd" * 32, "x", D("130.00"))


def trailing_stop_plan() -> ActionPlan:
    stop = Action("exit-1", ActionKind.PLACE_ORDER, "trailing stop for the holding",
                  RequestTemplate("POST", "/api/v3/order",
                                  (("symbol", "BNBBTC"), ("trailingDelta", "150"))),
                  client_id="bnb-x-s1",
                  legs=(Leg(LegRole.STOP, "bnb-x-s1", "SELL", "STOP_LOSS_LIMIT", D("1.5"),
                            price=D("0.00185"), trailing_delta=150, time_in_force="GTC"),))
    risk = RiskSummary("BTC", D("0.0000123456"), D("0.43"), None, None, None)
    return ActionPlan("bnb", "paper", "BNBBTC", "buy", Strategy.ORDER_NOW,
                      "protects a holding right away", (stop,), risk, "ef" * 32, "x",
                      D("0.001900"))


def empty_plan() -> ActionPlan:
    risk = RiskSummary("USDT", None, None, None, None, None)
    return ActionPlan("none", "paper", "BTCUSDT", "buy", Strategy.ORDER_NOW, "nothing", (),
                      risk, "00" * 32, "x", D("1"))
