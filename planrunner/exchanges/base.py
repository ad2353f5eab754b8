"""The exchange seam: market rules, the Binance-shaped request every action carries, order
snapshots, and the Exchange protocol that the paper exchange and the Binance client implement.

Requests are Binance Spot REST requests (method, path, ordered params) because Binance is the
reference venue: the paper exchange and the simulator interpret exactly what the real client sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable


class OrderStatus(StrEnum):
    NEW = "NEW"
    PENDING_NEW = "PENDING_NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PENDING_CANCEL = "PENDING_CANCEL"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return not self.is_final


_FINAL_STATUSES = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                             OrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH})


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Everything the compiler needs to know about one symbol, parsed from exchangeInfo filters.

    A bound of 0 means "not enforced" exactly as in Binance's filters.
    """

    symbol: str
    base_asset: str
    quote_asset: str
    status: str = "TRADING"
    base_asset_precision: int = 8
    quote_asset_precision: int = 8
    # PRICE_FILTER
    tick_size: Decimal = Decimal(0)
    min_price: Decimal = Decimal(0)
    max_price: Decimal = Decimal(0)
    # LOT_SIZE
    step_size: Decimal = Decimal(0)
    min_qty: Decimal = Decimal(0)
    max_qty: Decimal = Decimal(0)
    # MARKET_LOT_SIZE (zeros fall back to LOT_SIZE)
    market_step_size: Decimal = Decimal(0)
    market_min_qty: Decimal = Decimal(0)
    market_max_qty: Decimal = Decimal(0)
    # NOTIONAL (or legacy MIN_NOTIONAL)
    min_notional: Decimal = Decimal(0)
    max_notional: Decimal = Decimal(0)
    apply_min_to_market: bool = True
    apply_max_to_market: bool = False
    avg_price_mins: int = 5
    # PERCENT_PRICE_BY_SIDE (or PERCENT_PRICE mirrored onto both sides); 0 = absent
    bid_multiplier_up: Decimal = Decimal(0)
    bid_multiplier_down: Decimal = Decimal(0)
    ask_multiplier_up: Decimal = Decimal(0)
    ask_multiplier_down: Decimal = Decimal(0)
    # TRAILING_DELTA (BIPS); 0 = absent
    min_trailing_above_delta: int = 0
    max_trailing_above_delta: int = 0
    min_trailing_below_delta: int = 0
    max_trailing_below_delta: int = 0
    # MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS / MAX_NUM_ORDER_LISTS; 0 = absent
    max_num_orders: int = 0
    max_num_algo_orders: int = 0
    max_num_order_lists: int = 0
    # order types and feature flags
    order_types: frozenset[str] = frozenset()
    oco_allowed: bool = False
    oto_allowed: bool = False
    opo_allowed: bool = False
    allow_trailing_stop: bool = False
    quote_order_qty_market_allowed: bool = False
    is_spot_trading_allowed: bool = True

    @property
    def effective_market_step(self) -> Decimal:
        return self.market_step_size if self.market_step_size > 0 else self.step_size

    @property
    def effective_market_min_qty(self) -> Decimal:
        return self.market_min_qty if self.market_min_qty > 0 else self.min_qty

    @property
    def effective_market_max_qty(self) -> Decimal:
        return self.market_max_qty if self.market_max_qty > 0 else self.max_qty

    def allows(self, order_type: str) -> bool:
        return order_type in self.order_types

    @property
    def otoco_allowed(self) -> bool:
        return self.oto_allowed and self.oco_allowed

    @property
    def opoco_allowed(self) -> bool:
        return self.oto_allowed and self.opo_allowed and self.oco_allowed


@dataclass(frozen=True, slots=True)
class Commission:
    """Commission rates as fractions (0.001 = 0.1%)."""

    maker: Decimal = Decimal("0.001")
    taker: Decimal = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class MarketContext:
    """What the compiler knows about the market at plan time: rules, last price, commission."""

    rules: MarketRules
    last_price: Decimal
    commission: Commission = field(default_factory=Commission)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an exchange adapter can do, beyond the per-symbol flags in MarketRules."""

    name: str
    order_lists: frozenset[str] = frozenset({"OCO", "OTO", "OTOCO", "OPO", "OPOCO"})
    order_test: bool = False  # POST /api/v3/order/test
    live: bool = False  # real money: apply returns once the exchange enforces the rest


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """One Binance Spot REST request: method, path, params in the order they are sent."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def as_dict(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int = 0
    is_maker: bool = False


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """One order as the exchange reports it (query, placement or cancel response)."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str  # BUY / SELL
    type: str  # LIMIT, MARKET, STOP_LOSS_LIMIT ...
    status: OrderStatus
    orig_qty: Decimal
    executed_qty: Decimal = Decimal(0)
    cumulative_quote_qty: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    stop_price: Decimal = Decimal(0)
    time_in_force: str = ""
    order_list_id: int = -1
    trailing_delta: int | None = None
    orig_quote_order_qty: Decimal = Decimal(0)
    time_ms: int = 0
    update_time_ms: int = 0
    expiry_reason: str | None = None
    fills: tuple[Fill, ...] = ()

    @property
    def average_price(self) -> Decimal | None:
        if self.executed_qty <= 0:
            return None
        return self.cumulative_quote_qty / self.executed_qty


@dataclass(frozen=True, slots=True)
class OrderListSnapshot:
    order_list_id: int
    list_client_order_id: str
    contingency_type: str  # OCO / OTO (OTOCO, OPO, OPOCO report OTO)
    list_status_type: str  # RESPONSE / EXEC_STARTED / UPDATED / ALL_DONE
    list_order_status: str  # EXECUTING / ALL_DONE / REJECT
    symbol: str
    orders: tuple[OrderSnapshot, ...] = ()
    transaction_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal = Decimal(0)


@runtime_checkable
class Exchange(Protocol):
    """What the engine needs from a venue. Errors are the classes in planrunner.errors."""

    def capabilities(self) -> Capabilities: ...

    def market_context(self, symbol: str) -> MarketContext: ...

    def last_price(self, symbol: str) -> Decimal: ...

    def submit(self, request: ExchangeRequest) -> OrderSnapshot | OrderListSnapshot:
        """Place an order or an order list (POST /api/v3/order, /api/v3/orderList/*)."""

    def query_order(self, symbol: str, client_order_id: str, *,
                    order_id: int | None = None) -> OrderSnapshot:
        """Raises OrderNotFound when the exchange has no such order. With `order_id` the order
        is looked up by the exchange's id alone (a cancel on Binance renames the client id)."""

    def order_trades(self, symbol: str, order_id: int) -> tuple[Fill, ...]:
        """The order's trades with their real ids and commissions (GET /api/v3/myTrades)."""

    def query_order_list(self, list_client_order_id: str) -> OrderListSnapshot:
        """Raises OrderNotFound when the exchange has no such list."""

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderSnapshot: ...

    def cancel_order_list(self, symbol: str, list_client_order_id: str) -> OrderListSnapshot: ...

    def open_orders(self, symbol: str) -> tuple[OrderSnapshot, ...]: ...

    def balances(self) -> tuple[Balance, ...]: ...
