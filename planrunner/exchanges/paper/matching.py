"""The paper matching engine: Binance Spot order semantics in process, without an order book.

The market is the last trade price given to `set_price`. MARKET orders and limits that cross the
last price at placement fill at once at the last price (taker); resting limits fill at their own
price (maker) when a later trade reaches them; stops trigger per Binance's trigger table. Order
lists (OCO, OTO, OTOCO, OPO, OPOCO), balances, locks and commission follow Binance. Time comes in
as `now_ms`; there is no wall clock and no randomness, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from planrunner.errors import ExchangeError, OrderNotFound
from planrunner.exchanges.base import (
    Balance, Commission, ExchangeRequest, Fill, MarketRules, OrderListSnapshot, OrderSnapshot,
    OrderStatus)
from planrunner.exchanges.paper.balances import Ledger, insufficient
from planrunner.exchanges.paper.filters import (
    OpenCounts, check_counts, check_features, check_filters, check_symbol, count_new, failure)
from planrunner.exchanges.paper.lists import (
    DUPLICATE, LIST_PATHS, ListContingencies, OrderList, pick_list)
from planrunner.exchanges.paper.orders import (
    PLAIN, STOP_TYPES, Order, OrderSpec, crosses, fill_from_dict, fill_to_dict, hold_need,
    mandatory, order_from_dict, order_to_dict, parse_spec, pick_order, rejected, stop_reached,
    trailing_fired)
from planrunner.money import ZERO, floor_to, to_decimal

_MARKET_FORM = frozenset({"MARKET", "STOP_LOSS", "TAKE_PROFIT"})
_UNKNOWN = "Unknown order sent."


class MatchingEngine(ListContingencies):
    """One paper account on a set of symbols. Mutable; every change is deterministic."""

    def __init__(self, rules: Mapping[str, MarketRules], *, commission: Commission = Commission(),
                 balances: Mapping[str, Decimal] | None = None):
        self._rules = dict(rules)
        self._commission = commission
        self._ledger = Ledger(balances)
        self._orders: dict[int, Order] = {}
        self._lists: dict[int, OrderList] = {}
        self._fills: dict[int, list[Fill]] = {}
        self._prices: dict[str, Decimal] = {}
        self._counters = {"order_id": 1, "order_list_id": 1, "trade_id": 1, "client_id": 1}
        self._changed: dict[int, None] = {}
        self._caps: dict[int, Decimal] = {}  # order id -> most its next maker fill may trade

    # ----------------------------------------------------------------- market
    def set_price(self, symbol: str, price: Decimal, now_ms: int) -> list[OrderSnapshot]:
        """A trade at `price`: triggers stops, fills crossing limits, arms pending list legs."""
        self._rules_for(symbol)
        if price <= ZERO:
            raise ValueError(f"a trade price must be positive, got {price} for {symbol}")
        self._prices[symbol] = price
        self._changed = {}
        live = sorted(o.order_id for o in self._orders.values()
                      if o.symbol == symbol and o.is_open and o.status is not OrderStatus.PENDING_NEW)
        for order_id in live:
            order = self._orders[order_id]
            if order.is_open and order.status is not OrderStatus.PENDING_NEW:
                self._on_trade(order, price, now_ms)
        return [self._snapshot(self._orders[i]) for i in sorted(self._changed)]

    def last_price(self, symbol: str) -> Decimal | None:
        return self._prices.get(symbol)

    def cap_next_fill(self, order_id: int, qty: Decimal) -> None:
        """The order's next maker fill trades at most `qty`; the rest stays open as
        PARTIALLY_FILLED (the simulator's "fill partially" fault). Not persisted."""
        self._caps[order_id] = qty

    def clear_fill_caps(self) -> None:
        self._caps.clear()

    def _on_trade(self, order: Order, price: Decimal, now_ms: int) -> None:
        if order.is_stop and not order.triggered:
            tracked = self._track(order, price)
            self._orders[order.order_id] = tracked
            if tracked.triggered:
                self._put(tracked.with_(update_time_ms=now_ms))
                self._list_event(self._orders[order.order_id], now_ms)
                self._work(self._orders[order.order_id], price, now_ms)
        elif order.limit_form and crosses(order.side, order.price, price):
            self._fill(order, order.price, maker=True, now_ms=now_ms)

    @staticmethod
    def _track(order: Order, price: Decimal) -> Order:
        has_stop = order.stop_price > ZERO
        reached = has_stop and stop_reached(order.type, order.side, order.stop_price, price)
        if order.trailing_delta is None:
            return order.with_(triggered=reached)
        if order.trail_extreme is None:
            return order.with_(trail_extreme=price) if reached or not has_stop else order
        extreme = max(order.trail_extreme, price) if order.side == "SELL" \
            else min(order.trail_extreme, price)
        fired = trailing_fired(order.side, extreme, order.trailing_delta, price)
        return order.with_(trail_extreme=extreme, triggered=fired)

    # ----------------------------------------------------------------- placement
    def submit(self, request: ExchangeRequest, now_ms: int) -> OrderSnapshot | OrderListSnapshot:
        """POST /api/v3/order or /api/v3/orderList/{oco,oto,otoco,opo,opoco}."""
        params = request.as_dict()
        self._changed = {}
        if request.method == "POST" and request.path == "/api/v3/order":
            spec, qty = self._validate_order(params)
            self._check_funds(self._order_needs(spec, qty))
            order = self._create(spec, qty, now_ms)
            self._start(order, now_ms)
            return self._snapshot(self._orders[order.order_id])
        if request.method == "POST" and request.path in LIST_PATHS:
            return self._submit_list(LIST_PATHS[request.path], params, now_ms)
        message = "This operation is not supported."
        hint = " (use test_order)" if request.path == "/api/v3/order/test" else ""
        raise ExchangeError(f"{message} The paper matching engine cannot {request.endpoint}{hint}",
                            code=-1020, venue_message=message)

    def test_order(self, request: ExchangeRequest, now_ms: int) -> None:
        """POST /api/v3/order/test: parameters, symbol rules and filters, like Binance's, which
        never reaches the matching engine (so no "would trigger immediately", no duplicate-id
        and no funds checks); changes nothing."""
        self._validate_order(request.as_dict(), engine=False)

    def _validate_order(self, params: Mapping[str, str], *,
                        engine: bool = True) -> tuple[OrderSpec, Decimal]:
        rules = self._rules_for(params.get("symbol"))
        spec = parse_spec(params, PLAIN, rules)
        check_symbol(rules)
        check_features(spec, rules)
        last = self._prices.get(rules.symbol)
        qty = spec.quantity if spec.quantity is not None else self._quote_qty(spec, rules, last)
        check_filters(spec, rules, last, qty)
        check_counts(rules, self._counts(rules.symbol), count_new((spec,), 0))
        if engine:
            self._check_engine(spec, last)
            self._check_client_ids(rules.symbol, (spec,))
        return spec, qty

    def _quote_qty(self, spec: OrderSpec, rules: MarketRules, last: Decimal | None) -> Decimal:
        if last is None:
            raise rejected(-1112, "No orders on book for symbol.")
        step = rules.effective_market_step
        if step <= ZERO:
            step = Decimal(1).scaleb(-rules.base_asset_precision)
        qty = floor_to((spec.quote_order_qty or ZERO) / last, step)
        if qty <= ZERO:
            raise failure("LOT_SIZE")
        return qty

    @staticmethod
    def _check_engine(spec: OrderSpec, last: Decimal | None) -> None:
        """The matching engine's own refusals (-2010), judged against the last trade price."""
        if spec.type == "MARKET" and last is None:
            raise rejected(-1112, "No orders on book for symbol.")
        if last is None:
            return
        if spec.type in STOP_TYPES and spec.stop_price is not None \
                and stop_reached(spec.type, spec.side, spec.stop_price, last):
            raise rejected(-2010, "Order would trigger immediately.")
        if spec.type == "LIMIT_MAKER" and spec.price is not None and crosses(spec.side, spec.price, last):
            raise rejected(-2010, "Order would immediately match and take.")

    def _check_client_ids(self, symbol: str, specs: tuple[OrderSpec, ...]) -> None:
        wanted = [s.client_order_id for s in specs if s.client_order_id is not None]
        open_ids = {o.client_order_id for o in self._orders.values() if o.symbol == symbol and o.is_open}
        if len(set(wanted)) != len(wanted) or open_ids & set(wanted):
            raise rejected(-2010, DUPLICATE)

    def _order_needs(self, spec: OrderSpec, qty: Decimal) -> list[tuple[str, Decimal]]:
        rules = self._rules[spec.symbol]
        last = self._prices.get(spec.symbol)
        if spec.type == "MARKET" and spec.side == "BUY":
            return [(rules.quote_asset, qty * (last or ZERO))]
        return [hold_need(_sized(spec, qty), rules, last)]

    def _check_funds(self, needs: list[tuple[str, Decimal]]) -> None:
        total: dict[str, Decimal] = {}
        for asset, amount in needs:
            total[asset] = total.get(asset, ZERO) + amount
        if any(amount > self._ledger.free(asset) for asset, amount in total.items()):
            raise insufficient()

    def _create(self, spec: OrderSpec, qty: Decimal | None, now_ms: int, *, list_id: int = -1,
                pending: bool = False, hold_key: str | None = None) -> Order:
        order_id = self._next("order_id")
        order = Order(
            order_id=order_id, client_order_id=spec.client_order_id or self._client_id(),
            symbol=spec.symbol, side=spec.side, type=spec.type,
            status=OrderStatus.PENDING_NEW if pending else OrderStatus.NEW,
            orig_qty=qty or ZERO, price=spec.price or ZERO, stop_price=spec.stop_price or ZERO,
            trailing_delta=spec.trailing_delta, time_in_force=spec.time_in_force or "",
            orig_quote_order_qty=spec.quote_order_qty or ZERO, order_list_id=list_id,
            time_ms=now_ms, update_time_ms=now_ms)
        if not pending and spec.type != "MARKET":
            order = order.with_(hold_key=hold_key or f"o{order_id}")
            if hold_key is None:
                asset, amount = hold_need(_sized(spec, order.orig_qty), self._rules[spec.symbol],
                                          self._prices.get(spec.symbol))
                self._ledger.hold(order.hold_key or "", asset, amount)
        self._put(order)
        return order

    def _start(self, order: Order, now_ms: int) -> None:
        """A new live order meets the market: market forms fill, crossing limits take."""
        if not order.is_stop:
            self._work(order, self._prices.get(order.symbol), now_ms)

    def _work(self, order: Order, price: Decimal | None, now_ms: int) -> None:
        takes = order.type in _MARKET_FORM or crosses(order.side, order.price, price or ZERO)
        if price is not None and takes:
            self._fill(order, price, maker=False, now_ms=now_ms)
        elif order.time_in_force == "IOC":
            self._expire(order, "UNFILLED_IOC_QUANTITY_EXPIRED", now_ms)
        elif order.time_in_force == "FOK":
            self._expire(order, "UNFILLED_FOK_ORDER_EXPIRED", now_ms)

    # ----------------------------------------------------------------- fills and endings
    def _fill(self, order: Order, price: Decimal, *, maker: bool, now_ms: int) -> None:
        rules = self._rules[order.symbol]
        cap = self._caps.pop(order.order_id, None) if maker else None
        qty = order.remaining if cap is None else min(cap, order.remaining)
        quote = price * qty
        pay_asset, pay = (rules.quote_asset, quote) if order.side == "BUY" else (rules.base_asset, qty)
        if not self._ledger.can_spend(order.hold_key, pay_asset, pay):
            self._expire(order, "REJECTED", now_ms)  # a stop turned MARKET that funds cannot cover
            return
        self._ledger.spend(order.hold_key, pay_asset, pay)
        fill = self._commissioned_fill(order, rules, price, qty, maker, now_ms)
        self._fills.setdefault(order.order_id, []).append(fill)
        status = OrderStatus.FILLED if qty == order.remaining else OrderStatus.PARTIALLY_FILLED
        done = order.with_(executed_qty=order.executed_qty + qty, status=status,
                           cumulative_quote_qty=order.cumulative_quote_qty + quote,
                           update_time_ms=now_ms)
        self._put(done)
        self._settle(done, now_ms)

    def _commissioned_fill(self, order: Order, rules: MarketRules, price: Decimal, qty: Decimal,
                           maker: bool, now_ms: int) -> Fill:
        rate = self._commission.maker if maker else self._commission.taker
        if order.side == "BUY":
            asset, gross, places = rules.base_asset, qty, rules.base_asset_precision
        else:
            asset, gross, places = rules.quote_asset, price * qty, rules.quote_asset_precision
        fee = (gross * rate).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        self._ledger.credit(asset, gross - fee)
        return Fill(trade_id=self._next("trade_id"), price=price, qty=qty, commission=fee,
                    commission_asset=asset, time_ms=now_ms, is_maker=maker)

    def _expire(self, order: Order, reason: str, now_ms: int) -> None:
        ended = order.with_(status=OrderStatus.EXPIRED, expiry_reason=reason, update_time_ms=now_ms)
        self._put(ended)
        self._settle(ended, now_ms)

    def _settle(self, order: Order, now_ms: int) -> None:
        if not order.is_open and order.hold_key is not None:
            users = [o for o in self._orders.values() if o.hold_key == order.hold_key and o.is_open]
            if not users:
                self._ledger.release(order.hold_key)
        self._list_event(order, now_ms)

    # ----------------------------------------------------------------- cancel and queries
    def cancel_order(self, symbol: str, *, client_order_id: str | None = None,
                     order_id: int | None = None, now_ms: int) -> OrderSnapshot:
        """Cancel one order; cancelling a list leg cancels the whole list."""
        self._changed = {}
        order = self._find(symbol, client_order_id, order_id, missing=(-2011, _UNKNOWN))
        if not order.is_open:
            raise rejected(-2011, _UNKNOWN)
        if order.order_list_id >= 0:
            self._cancel_list(self._lists[order.order_list_id], now_ms)
        else:
            self._cancel(order, now_ms)
        return self._snapshot(self._orders[order.order_id])

    def cancel_order_list(self, symbol: str, *, list_client_order_id: str | None = None,
                          order_list_id: int | None = None, now_ms: int) -> OrderListSnapshot:
        self._changed = {}
        self._rules_for(symbol)
        lst = self._find_list(list_client_order_id, order_list_id, missing=(-2011, _UNKNOWN))
        if lst.all_done or lst.symbol != symbol:
            raise rejected(-2011, _UNKNOWN)
        self._cancel_list(lst, now_ms)
        return self._list_snapshot(self._lists[lst.order_list_id])

    def _cancel_list(self, lst: OrderList, now_ms: int) -> None:
        for leg_id in lst.order_ids:
            if self._orders[leg_id].is_open:
                self._cancel(self._orders[leg_id], now_ms)
        self._maybe_done(self._lists[lst.order_list_id], now_ms)

    def _cancel(self, order: Order, now_ms: int) -> None:
        ended = order.with_(status=OrderStatus.CANCELED, update_time_ms=now_ms)
        self._put(ended)
        if ended.hold_key is not None and not any(
                o.is_open and o.hold_key == ended.hold_key for o in self._orders.values()):
            self._ledger.release(ended.hold_key)

    def query_order(self, symbol: str, *, client_order_id: str | None = None,
                    order_id: int | None = None) -> OrderSnapshot:
        order = self._find(symbol, client_order_id, order_id, missing=(-2013, "Order does not exist."))
        return self._snapshot(order)

    def query_order_list(self, *, list_client_order_id: str | None = None,
                         order_list_id: int | None = None) -> OrderListSnapshot:
        lst = self._find_list(list_client_order_id, order_list_id,
                              missing=(-2013, "Order list does not exist."))
        return self._list_snapshot(lst)

    def open_orders(self, symbol: str | None = None) -> tuple[OrderSnapshot, ...]:
        return tuple(self._snapshot(o) for o in self._sorted()
                     if o.is_open and (symbol is None or o.symbol == symbol))

    def all_orders(self) -> tuple[OrderSnapshot, ...]:
        return tuple(self._snapshot(o) for o in self._sorted())

    def trades(self, symbol: str, order_id: int | None = None) -> tuple[Fill, ...]:
        fills = [f for o in self._sorted() if o.symbol == symbol
                 and (order_id is None or o.order_id == order_id) for f in self._fills.get(o.order_id, ())]
        return tuple(sorted(fills, key=lambda f: f.trade_id))

    def balances(self) -> tuple[Balance, ...]:
        return self._ledger.balances()

    def _find(self, symbol: str, client_id: str | None, order_id: int | None,
              missing: tuple[int, str]) -> Order:
        self._rules_for(symbol)
        found = pick_order(self._sorted(), symbol, client_id, order_id)
        if found is None:
            raise _not_found(*missing)
        return found

    def _find_list(self, client_id: str | None, list_id: int | None,
                   missing: tuple[int, str]) -> OrderList:
        ordered = sorted(self._lists.values(), key=lambda x: x.order_list_id)
        found = pick_list(ordered, client_id, list_id)
        if found is None:
            raise _not_found(*missing)
        return found

    # ----------------------------------------------------------------- plumbing
    def _rules_for(self, symbol: str | None) -> MarketRules:
        if symbol is None or symbol == "":
            raise mandatory("symbol")
        if symbol not in self._rules:
            raise rejected(-1121, "Invalid symbol.")
        return self._rules[symbol]

    def _counts(self, symbol: str) -> OpenCounts:
        live = [o for o in self._orders.values() if o.symbol == symbol and o.is_open]
        lists = [lst for lst in self._lists.values() if lst.symbol == symbol and not lst.all_done]
        return OpenCounts(len(live), sum(1 for o in live if o.is_stop), len(lists))

    def _next(self, name: str) -> int:
        value = self._counters[name]
        self._counters[name] = value + 1
        return value

    def _client_id(self) -> str:
        return f"paper{self._next('client_id'):017d}"  # 22 alphanumerics, like Binance's

    def _put(self, order: Order) -> None:
        self._orders[order.order_id] = order
        self._changed[order.order_id] = None

    def _sorted(self) -> list[Order]:
        return [self._orders[i] for i in sorted(self._orders)]

    def _snapshot(self, order: Order) -> OrderSnapshot:
        return order.snapshot(tuple(self._fills.get(order.order_id, ())))

    def _list_snapshot(self, lst: OrderList) -> OrderListSnapshot:
        return lst.snapshot(tuple(self._snapshot(self._orders[i]) for i in lst.order_ids))

    # ----------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """Complete JSON-safe state: orders, lists, fills, balances, prices and id counters."""
        return {"format": 1,
                "orders": [order_to_dict(o) for o in self._sorted()],
                "lists": [self._lists[i].to_dict() for i in sorted(self._lists)],
                "fills": {str(i): [fill_to_dict(f) for f in fs] for i, fs in sorted(self._fills.items())},
                "ledger": self._ledger.to_dict(),
                "prices": {s: str(p) for s, p in sorted(self._prices.items())},
                "counters": dict(sorted(self._counters.items()))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], rules: Mapping[str, MarketRules], *,
                  commission: Commission = Commission()) -> MatchingEngine:
        engine = cls(rules, commission=commission)
        try:
            engine._load(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"paper exchange state is malformed ({exc!r}); delete or restore the "
                             "paper state file to start again") from None
        return engine

    def _load(self, data: Mapping[str, Any]) -> None:
        if data.get("format") != 1:
            raise ValueError(f"unknown paper state format {data.get('format')!r}, expected 1")
        self._orders = {o.order_id: o for o in map(order_from_dict, data["orders"])}
        unknown = {o.symbol for o in self._orders.values()} - set(self._rules)
        if unknown:
            raise ValueError(f"orders on symbols without market rules: {sorted(unknown)}")
        self._lists = {lst.order_list_id: lst for lst in map(OrderList.from_dict, data["lists"])}
        self._fills = {int(i): [fill_from_dict(f) for f in fs] for i, fs in dict(data["fills"]).items()}
        self._ledger = Ledger.from_dict(data["ledger"])
        self._prices = {str(s): to_decimal(p) for s, p in dict(data["prices"]).items()}
        counters = {str(k): int(v) for k, v in dict(data["counters"]).items()}
        if set(counters) != set(self._counters):
            raise ValueError(f"counters must be {sorted(self._counters)}")
        self._counters = counters


def _sized(spec: OrderSpec, qty: Decimal | None) -> OrderSpec:
    return replace(spec, quantity=qty)


def _not_found(code: int, message: str) -> ExchangeError:
    if code == -2011:
        return rejected(code, message)
    return OrderNotFound(message, code=code, venue_message=message)
