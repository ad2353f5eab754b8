"""Pure Binance Spot wire format: JSON responses -> domain snapshots (Decimals from strings,
optional fields tolerated, a missing or mistyped required field -> an ExchangeError naming it),
and request parameter building. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from planrunner.errors import ExchangeError
from planrunner.exchanges.base import (
    Balance,
    Commission,
    ExchangeRequest,
    Fill,
    MarketRules,
    OrderListSnapshot,
    OrderSnapshot,
    OrderStatus,
)
from planrunner.exchanges.binance.governor import RateLimit
from planrunner.exchanges.rules import parse_symbol
from planrunner.money import fmt, to_decimal

Params = tuple[tuple[str, str], ...]
_MISSING = object()

ORDER_LIST_PATHS = frozenset(f"/api/v3/orderList/{k}" for k in ("oco", "oto", "otoco", "opo", "opoco"))
LIST_LEGS = {"/api/v3/orderList/oco": 2, "/api/v3/orderList/oto": 2, "/api/v3/orderList/otoco": 3,
             "/api/v3/orderList/opo": 2, "/api/v3/orderList/opoco": 3}


class WireError(ExchangeError):
    """Binance answered with JSON planrunner cannot read (a missing or mistyped field)."""


@dataclass(frozen=True, slots=True)
class AccountTrade:
    symbol: str
    order_id: int
    order_list_id: int
    fill: Fill
    quote_qty: Decimal
    is_buyer: bool


@dataclass(frozen=True, slots=True)
class Account:
    balances: tuple[Balance, ...]
    commission: Commission
    can_trade: bool = True


@dataclass(frozen=True, slots=True)
class Kline:
    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time_ms: int
    quote_volume: Decimal
    trades: int


@dataclass(frozen=True, slots=True)
class OrderTestResult:
    """POST /api/v3/order/test: {} or, with computeCommissionRates, the rates for this order."""

    standard: Commission | None = None
    special: Commission | None = None
    tax: Commission | None = None
    discount: Decimal | None = None
    discount_asset: str | None = None


@dataclass(frozen=True, slots=True)
class LegRef:
    symbol: str
    order_id: int
    client_order_id: str


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    symbols: Mapping[str, MarketRules]
    rate_limits: tuple[RateLimit, ...]
    server_time_ms: int = 0


# --- field access -------------------------------------------------------------------------------

def _what(where: str) -> str:
    return f"Binance's {where} response"


def _get(data: Any, key: str, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise WireError(f"{_what(where)} is not a JSON object (got {type(data).__name__})")
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        raise WireError(f"{_what(where)} lacks the required field '{key}'")
    return value


def _str(data: Any, key: str, where: str, default: Any = _MISSING) -> str:
    if default is not _MISSING and (not isinstance(data, Mapping) or data.get(key) is None):
        return default
    value = _get(data, key, where)
    if not isinstance(value, str):
        raise WireError(f"{_what(where)} field '{key}' should be a string, got {value!r}")
    return value


def _int(data: Any, key: str, where: str, default: Any = _MISSING) -> int:
    if default is not _MISSING and (not isinstance(data, Mapping) or data.get(key) is None):
        return default
    value = _get(data, key, where)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise WireError(f"{_what(where)} field '{key}' should be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise WireError(f"{_what(where)} field '{key}' should be an integer, got {value!r}") from None


def _dec(data: Any, key: str, where: str, default: Any = _MISSING) -> Decimal:
    """Decimal from a JSON string; a JSON float is refused because it may already be rounded."""
    if default is not _MISSING and (not isinstance(data, Mapping) or data.get(key) is None):
        return default
    value = _get(data, key, where)
    if isinstance(value, (bool, float)):
        raise WireError(f"{_what(where)} field '{key}' should be a decimal string, got {value!r}")
    try:
        return to_decimal(value)
    except ValueError:
        raise WireError(f"{_what(where)} field '{key}' is not a number: {value!r}") from None


def _bool(data: Any, key: str, where: str, default: bool) -> bool:
    value = data.get(key, default) if isinstance(data, Mapping) else default
    if not isinstance(value, bool):
        raise WireError(f"{_what(where)} field '{key}' should be true/false, got {value!r}")
    return value


def _list(data: Any, key: str, where: str, default: Any = _MISSING) -> list[Any]:
    if default is not _MISSING and (not isinstance(data, Mapping) or data.get(key) is None):
        return default
    value = _get(data, key, where)
    if not isinstance(value, list):
        raise WireError(f"{_what(where)} field '{key}' should be a list, got {type(value).__name__}")
    return value


def _as_list(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise WireError(f"{_what(where)} should be a JSON list, got {type(data).__name__}")
    return data


# --- orders -------------------------------------------------------------------------------------

def is_ack(data: Any) -> bool:
    """newOrderRespType=ACK answers carry ids only; the full state needs a query."""
    return isinstance(data, Mapping) and "status" not in data


def parse_status(data: Any, where: str) -> OrderStatus:
    raw = _str(data, "status", where)
    try:
        return OrderStatus(raw)
    except ValueError:
        raise WireError(f"{_what(where)} has an unknown order status {raw!r}") from None


def parse_fill(data: Any, where: str = "fill") -> Fill:
    return Fill(trade_id=_int(data, "tradeId", where), price=_dec(data, "price", where),
                qty=_dec(data, "qty", where), commission=_dec(data, "commission", where),
                commission_asset=_str(data, "commissionAsset", where))


def _trailing(data: Any, where: str) -> int | None:
    return _int(data, "trailingDelta", where) if isinstance(data, Mapping) and \
        data.get("trailingDelta") is not None else None


def parse_order(data: Any, where: str = "order") -> OrderSnapshot:
    """Any order object (place RESULT/FULL, query, cancel, list report). A cancel answer renames
    the order, so the id planrunner chose (origClientOrderId) wins over the cancel's id."""
    zero = Decimal(0)
    client_id = _str(data, "origClientOrderId", where, None) or _str(data, "clientOrderId", where)
    return OrderSnapshot(
        symbol=_str(data, "symbol", where), order_id=_int(data, "orderId", where),
        client_order_id=client_id, side=_str(data, "side", where), type=_str(data, "type", where),
        status=parse_status(data, where),
        # OPO pending legs have no origQty until the working order fills.
        orig_qty=_dec(data, "origQty", where, zero),
        executed_qty=_dec(data, "executedQty", where, zero),
        cumulative_quote_qty=_dec(data, "cummulativeQuoteQty", where, zero),
        price=_dec(data, "price", where, zero), stop_price=_dec(data, "stopPrice", where, zero),
        time_in_force=_str(data, "timeInForce", where, ""),
        order_list_id=_int(data, "orderListId", where, -1), trailing_delta=_trailing(data, where),
        orig_quote_order_qty=_dec(data, "origQuoteOrderQty", where, zero),
        time_ms=_int(data, "time", where, _int(data, "transactTime", where, 0)),
        update_time_ms=_int(data, "updateTime", where, _int(data, "transactTime", where, 0)),
        expiry_reason=_str(data, "expiryReason", where, None),
        fills=tuple(parse_fill(f) for f in _list(data, "fills", where, [])))


def parse_orders(data: Any, where: str = "open orders") -> tuple[OrderSnapshot, ...]:
    return tuple(parse_order(item, where) for item in _as_list(data, where))


def parse_ack(data: Any, where: str = "new order") -> LegRef:
    return LegRef(_str(data, "symbol", where), _int(data, "orderId", where),
                  _str(data, "clientOrderId", where))


def parse_leg_refs(data: Any, where: str = "order list") -> tuple[LegRef, ...]:
    return tuple(LegRef(_str(o, "symbol", where), _int(o, "orderId", where),
                        _str(o, "clientOrderId", where)) for o in _list(data, "orders", where))


def parse_order_list(data: Any, where: str = "order list",
                     legs: Sequence[OrderSnapshot] | None = None) -> OrderListSnapshot:
    """A list placement/cancel answer (with orderReports) or a query answer plus its `legs`."""
    reports = _list(data, "orderReports", where, [])
    orders = tuple(legs) if legs is not None else tuple(parse_order(r, where) for r in reports)
    parse_leg_refs(data, where)  # validates orders[] even when the reports are used
    return OrderListSnapshot(
        order_list_id=_int(data, "orderListId", where),
        list_client_order_id=_str(data, "listClientOrderId", where),
        contingency_type=_str(data, "contingencyType", where),
        list_status_type=_str(data, "listStatusType", where),
        list_order_status=_str(data, "listOrderStatus", where),
        symbol=_str(data, "symbol", where), orders=orders,
        transaction_time_ms=_int(data, "transactionTime", where, 0))


def has_full_reports(data: Any) -> bool:
    reports = data.get("orderReports") if isinstance(data, Mapping) else None
    return isinstance(reports, list) and bool(reports) and all(not is_ack(r) for r in reports)


# --- account, trades, market data ---------------------------------------------------------------

def parse_balance(data: Any, where: str = "account balance") -> Balance:
    return Balance(_str(data, "asset", where), _dec(data, "free", where),
                   _dec(data, "locked", where, Decimal(0)))


def parse_account(data: Any, where: str = "account") -> Account:
    rates = data.get("commissionRates") if isinstance(data, Mapping) else None
    commission = Commission()
    if rates is not None:
        where_rates = f"{where} commissionRates"
        commission = Commission(maker=_dec(rates, "maker", where_rates),
                                taker=_dec(rates, "taker", where_rates))
    balances = tuple(parse_balance(b) for b in _list(data, "balances", where))
    return Account(balances, commission, _bool(data, "canTrade", where, True))


def parse_trade(data: Any, where: str = "trade") -> AccountTrade:
    fill = Fill(trade_id=_int(data, "id", where), price=_dec(data, "price", where),
                qty=_dec(data, "qty", where), commission=_dec(data, "commission", where),
                commission_asset=_str(data, "commissionAsset", where),
                time_ms=_int(data, "time", where, 0), is_maker=_bool(data, "isMaker", where, False))
    return AccountTrade(symbol=_str(data, "symbol", where), order_id=_int(data, "orderId", where),
                        order_list_id=_int(data, "orderListId", where, -1), fill=fill,
                        quote_qty=_dec(data, "quoteQty", where, fill.price * fill.qty),
                        is_buyer=_bool(data, "isBuyer", where, False))


def parse_trades(data: Any, where: str = "trade list") -> tuple[AccountTrade, ...]:
    return tuple(parse_trade(item, where) for item in _as_list(data, where))


def parse_ticker_price(data: Any, where: str = "ticker price") -> Decimal:
    return _dec(data, "price", where)


def parse_server_time(data: Any, where: str = "server time") -> int:
    return _int(data, "serverTime", where)


_KLINE_FIELDS = ("openTime", "open", "high", "low", "close", "volume", "closeTime", "quoteVolume",
                 "trades")


def parse_kline(row: Any, where: str = "klines") -> Kline:
    if not isinstance(row, list) or len(row) < len(_KLINE_FIELDS):
        raise WireError(f"{_what(where)} row should be a list of at least 9 values, got {row!r}")
    cells = dict(zip(_KLINE_FIELDS, row))
    return Kline(_int(cells, "openTime", where), _dec(cells, "open", where),
                 _dec(cells, "high", where), _dec(cells, "low", where), _dec(cells, "close", where),
                 _dec(cells, "volume", where), _int(cells, "closeTime", where),
                 _dec(cells, "quoteVolume", where), _int(cells, "trades", where))


def parse_klines(data: Any, where: str = "klines") -> tuple[Kline, ...]:
    return tuple(parse_kline(row, where) for row in _as_list(data, where))


def _commission_pair(data: Any, key: str, where: str) -> Commission | None:
    value = data.get(key) if isinstance(data, Mapping) else None
    if value is None:
        return None
    return Commission(maker=_dec(value, "maker", f"{where} {key}"),
                      taker=_dec(value, "taker", f"{where} {key}"))


def parse_test_order(data: Any, where: str = "test order") -> OrderTestResult:
    if not isinstance(data, Mapping):
        raise WireError(f"{_what(where)} is not a JSON object")
    discount = data.get("discount")
    return OrderTestResult(
        standard=_commission_pair(data, "standardCommissionForOrder", where),
        special=_commission_pair(data, "specialCommissionForOrder", where),
        tax=_commission_pair(data, "taxCommissionForOrder", where),
        discount=_dec(discount, "discount", where, None) if discount else None,
        discount_asset=_str(discount, "discountAsset", where, None) if discount else None)


def parse_rate_limit(data: Any, where: str = "exchangeInfo rateLimits") -> RateLimit:
    return RateLimit(_str(data, "rateLimitType", where), _str(data, "interval", where),
                     _int(data, "intervalNum", where), _int(data, "limit", where))


def parse_exchange_info(data: Any, where: str = "exchangeInfo") -> ExchangeInfo:
    limits = tuple(parse_rate_limit(r) for r in _list(data, "rateLimits", where, []) if r)
    symbols = {}
    for entry in _list(data, "symbols", where):
        try:
            rules = parse_symbol(entry)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise WireError(f"{_what(where)} has a symbol entry planrunner cannot read "
                            f"({type(exc).__name__}: {exc})") from None
        symbols[rules.symbol] = rules
    return ExchangeInfo(symbols, limits, _int(data, "serverTime", where, 0))


# --- request building ---------------------------------------------------------------------------

def _opt(name: str, value: Decimal | int | str | None) -> Params:
    if value is None:
        return ()
    return ((name, fmt(value) if isinstance(value, Decimal) else str(value)),)


def order_params(symbol: str, side: str, type: str, *, quantity: Decimal | None = None,
                 quote_order_qty: Decimal | None = None, price: Decimal | None = None,
                 stop_price: Decimal | None = None, time_in_force: str | None = None,
                 trailing_delta: int | None = None, iceberg_qty: Decimal | None = None,
                 client_order_id: str | None = None, stp_mode: str | None = None,
                 resp_type: str | None = "FULL") -> Params:
    """Params of POST /api/v3/order, Decimals written plainly (no exponent)."""
    return (("symbol", symbol), ("side", side), ("type", type),
            *_opt("timeInForce", time_in_force), *_opt("quantity", quantity),
            *_opt("quoteOrderQty", quote_order_qty), *_opt("price", price),
            *_opt("stopPrice", stop_price), *_opt("trailingDelta", trailing_delta),
            *_opt("icebergQty", iceberg_qty), *_opt("newClientOrderId", client_order_id),
            *_opt("selfTradePreventionMode", stp_mode), *_opt("newOrderRespType", resp_type))


def new_order_request(params: Params) -> ExchangeRequest:
    return ExchangeRequest("POST", "/api/v3/order", params)


def order_ref_params(symbol: str, *, client_order_id: str | None = None,
                     order_id: int | None = None) -> Params:
    """symbol + orderId / origClientOrderId, for GET and DELETE /api/v3/order."""
    if client_order_id is None and order_id is None:
        raise ValueError("an order reference needs a client order id or an order id")
    return (("symbol", symbol), *_opt("orderId", order_id),
            *_opt("origClientOrderId", client_order_id))


def klines_params(symbol: str, interval: str, *, start_ms: int | None = None,
                  end_ms: int | None = None, limit: int | None = None) -> Params:
    return (("symbol", symbol), ("interval", interval), *_opt("startTime", start_ms),
            *_opt("endTime", end_ms), *_opt("limit", limit))


def my_trades_params(symbol: str, *, order_id: int | None = None, from_id: int | None = None,
                     limit: int | None = None) -> Params:
    return (("symbol", symbol), *_opt("orderId", order_id), *_opt("fromId", from_id),
            *_opt("limit", limit))
