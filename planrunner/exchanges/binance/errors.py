"""Binance error handling as a table: (HTTP status, Binance code, message) -> the planrunner error
class, keeping the venue's code and message and adding what to do next.

Whether an unknown outcome is possible depends on the call: for an order placement or cancel a
5xx / -1006 / -1007 / -1000 / -1001 means "may have executed" (OutcomeUnknown); for a read it is
only a transient failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from planrunner.errors import (
    AuthError,
    ExchangeError,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)
from planrunner.exchanges.base import MarketRules
from planrunner.money import fmt, to_decimal


class Outcome(StrEnum):
    UNKNOWN = "unknown"  # may have executed (writes) / transient (reads)
    TRANSIENT = "transient"  # nothing happened; idempotent calls may retry
    RESYNC = "resync"  # -1021: resync the clock, retry once
    AUTH = "auth"
    NOT_FOUND = "not_found"
    REJECTED = "rejected"  # definitive; OrderRejected for writes, ExchangeError for reads
    FUNDS = "funds"
    RATE = "rate"


@dataclass(frozen=True, slots=True)
class Rule:
    outcome: Outcome
    hint: str


_RESEND = "look the order up by its client id (planrunner does this on the next run); never re-send it blindly"

# Binance code -> what it means for planrunner. Codes not listed fall back on the HTTP status.
CODE_TABLE: Mapping[int, Rule] = {
    -1000: Rule(Outcome.UNKNOWN, f"Binance reported an unknown error; {_RESEND}"),
    -1001: Rule(Outcome.UNKNOWN, f"Binance lost the request internally; {_RESEND}"),
    -1002: Rule(Outcome.AUTH, "the API key may not call this endpoint: enable the needed permission "
                              "(e.g. Spot trading) for the key on Binance"),
    -1003: Rule(Outcome.RATE, "too much request weight used; planrunner waits before sending more"),
    -1006: Rule(Outcome.UNKNOWN, f"execution status unknown; {_RESEND}"),
    -1007: Rule(Outcome.UNKNOWN, f"Binance timed out waiting for its backend; {_RESEND}"),
    -1008: Rule(Outcome.UNKNOWN, f"Binance is overloaded; {_RESEND}, or retry a read in a few minutes"),
    -1013: Rule(Outcome.REJECTED, "the order breaks a symbol filter"),
    -1014: Rule(Outcome.REJECTED, "this combination of order type, timeInForce and prices is not supported"),
    -1015: Rule(Outcome.RATE, "too many new orders for the account's unfilled-order limit; wait for "
                              "the interval to roll over"),
    -1016: Rule(Outcome.TRANSIENT, "this Binance service is not available now; try again later"),
    -1021: Rule(Outcome.RESYNC, "the computer clock is off from Binance's: enable time "
                                "synchronisation (NTP) or raise recvWindow"),
    -1022: Rule(Outcome.AUTH, "the signature was refused: check BINANCE_API_SECRET or "
                              "BINANCE_PRIVATE_KEY_FILE matches BINANCE_API_KEY"),
    -1100: Rule(Outcome.REJECTED, "a parameter has characters Binance does not accept; client ids "
                                  "may use only A-Z a-z 0-9 - _"),
    -1102: Rule(Outcome.REJECTED, "a required parameter is missing or malformed"),
    -1104: Rule(Outcome.REJECTED, "a parameter was sent that this order type does not take"),
    -1106: Rule(Outcome.REJECTED, "a parameter was sent that this order type does not take"),
    -1111: Rule(Outcome.REJECTED, "a price or quantity has more decimals than the symbol allows: "
                                  "round it to the tick size / step size"),
    -1112: Rule(Outcome.REJECTED, "the order book is empty; use a limit order or wait for liquidity"),
    -1115: Rule(Outcome.REJECTED, "invalid timeInForce: use GTC, IOC or FOK"),
    -1116: Rule(Outcome.REJECTED, "invalid order type for this symbol"),
    -1117: Rule(Outcome.REJECTED, "invalid side: use BUY or SELL"),
    -1121: Rule(Outcome.REJECTED, "Binance does not know this symbol: write the symbol as BTCUSDT "
                                  "(base then quote asset, no slash or dash)"),
    -1130: Rule(Outcome.REJECTED, "a parameter value is not valid"),
    -1145: Rule(Outcome.REJECTED, "cancelRestrictions must be ONLY_NEW or ONLY_PARTIALLY_FILLED"),
    -1158: Rule(Outcome.REJECTED, "an OCO leg type is not allowed: take-profit LIMIT_MAKER / "
                                  "TAKE_PROFIT(_LIMIT) with STOP_LOSS(_LIMIT)"),
    -1165: Rule(Outcome.REJECTED, "in a BUY OCO the limit leg must be below the last price"),
    -1166: Rule(Outcome.REJECTED, "in a SELL OCO the limit leg must be above the last price"),
    -1168: Rule(Outcome.REJECTED, "an OCO needs one contingent (stop or take-profit) leg"),
    -1196: Rule(Outcome.REJECTED, "in a BUY OCO the stop loss must be above the last price"),
    -1197: Rule(Outcome.REJECTED, "in a SELL OCO the stop loss must be below the last price"),
    -1198: Rule(Outcome.REJECTED, "in a BUY OCO the take profit must be below the last price"),
    -1199: Rule(Outcome.REJECTED, "in a SELL OCO the take profit must be above the last price"),
    -1222: Rule(Outcome.REJECTED, "an OPO working order must be a BUY"),
    -1223: Rule(Outcome.REJECTED, "OPO pending orders must be SELLs"),
    -2010: Rule(Outcome.REJECTED, "Binance refused the new order; nothing was created"),
    -2011: Rule(Outcome.NOT_FOUND, "the order is not open on Binance (already filled, canceled or "
                                   "never placed); query it to see its final state"),
    -2013: Rule(Outcome.NOT_FOUND, "Binance has no such order; check the symbol and client order id"),
    -2014: Rule(Outcome.AUTH, "the API key is malformed: copy BINANCE_API_KEY again from Binance"),
    -2015: Rule(Outcome.AUTH, "the API key is invalid, this IP is not whitelisted for it, or it "
                              "lacks the permission: check the key's settings on Binance"),
    -2026: Rule(Outcome.NOT_FOUND, "the order was archived (canceled or expired unfilled more "
                                   "than 90 days ago)"),
    -2039: Rule(Outcome.REJECTED, "the client order id does not belong to that order id"),
}

# Engine messages carried by -2010 / -2011 that change the class or the advice.
_MESSAGE_RULES: tuple[tuple[str, Rule], ...] = (
    ("insufficient balance", Rule(Outcome.FUNDS, "the account balance does not cover the order")),
    ("duplicate order sent", Rule(Outcome.REJECTED, "an open order already uses this client order "
                                                    "id; query it instead of placing it again")),
    ("would trigger immediately", Rule(Outcome.REJECTED, "the stop price is already crossed by the "
                                                         "last price; move the stop or exit at market")),
    ("immediately match and take", Rule(Outcome.REJECTED, "a post-only (LIMIT_MAKER) price would "
                                                          "take liquidity; move it away from the market")),
    ("relationship of the prices", Rule(Outcome.REJECTED, "OCO prices must sit on both sides of the "
                                                          "last price: take-profit above, stop below for a SELL")),
    ("market is closed", Rule(Outcome.REJECTED, "the symbol is not trading now")),
    ("cancel restrictions", Rule(Outcome.REJECTED, "the order's state does not meet the cancel restriction")),
    ("not supported for this symbol", Rule(Outcome.REJECTED, "this order kind is disabled on the "
                                                             "symbol; choose another order type")),
)


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the client knows about the failed call, to say precisely what to change."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    rules: MarketRules | None = None

    @property
    def is_write(self) -> bool:
        """Placements and cancels: an unknown outcome here may have changed the account."""
        return self.method in ("POST", "DELETE", "PUT") and self.path != "/api/v3/order/test"


@dataclass(frozen=True, slots=True)
class VenueReply:
    status: int
    code: int | None
    message: str | None
    retry_after: float | None = None


def parse_reply(status: int, body: bytes, retry_after: str | None = None) -> VenueReply:
    """Read a non-2xx body. An HTML/empty/garbled body keeps code and message None."""
    after = _seconds(retry_after)
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[...
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), int):
        msg = data.get("msg")
        return VenueReply(status, data["code"], msg if isinstance(msg, str) else None, after)
    return VenueReply(status, None, None, after)


def _seconds(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(int(raw.strip()))  # not money: Retry-After seconds
    except ValueError:
        return None


def classify(reply: VenueReply, ctx: CallContext) -> ExchangeError:
    """The planrunner error for a failed Binance call."""
    if reply.status == 418:
        return _rate_limited(reply, banned=True)
    if reply.status == 429 or reply.code in (-1003, -1015):
        return _rate_limited(reply, banned=False)
    rule = _rule(reply)
    if rule is None:
        return _by_status(reply, ctx)
    return _build(rule, reply, ctx)


def _rule(reply: VenueReply) -> Rule | None:
    rule = CODE_TABLE.get(reply.code) if reply.code is not None else None
    if reply.code in (-2010, -2011, -1010) and reply.message:
        lowered = reply.message.lower()
        for needle, special in _MESSAGE_RULES:
            if needle in lowered:
                return special
        if reply.code == -2011 and "unknown order" not in lowered:
            return Rule(Outcome.REJECTED, "Binance refused to cancel the order")
    if rule is None and reply.code is not None and reply.status >= 500:
        return Rule(Outcome.UNKNOWN, _RESEND)
    return rule


def _venue(reply: VenueReply) -> str:
    if reply.code is None:
        return f"HTTP {reply.status}"
    return f"Binance code {reply.code}: {reply.message or 'no message'}; HTTP {reply.status}"


def _kw(reply: VenueReply) -> dict[str, Any]:
    return {"code": reply.code, "venue_message": reply.message, "http_status": reply.status}


def _build(rule: Rule, reply: VenueReply, ctx: CallContext) -> ExchangeError:
    hint = rule.hint
    if reply.code == -1013:
        hint = filter_hint(reply.message or "", ctx)
    if rule.outcome is Outcome.FUNDS:
        hint = funds_hint(ctx)
    text = f"{ctx.method} {ctx.path} failed ({_venue(reply)}): {hint}"
    return _CLASSES[rule.outcome](ctx)(text, **_kw(reply))


def _unknown_class(ctx: CallContext) -> type[ExchangeError]:
    return OutcomeUnknown if ctx.is_write else TransientError


def _rejected_class(ctx: CallContext) -> type[ExchangeError]:
    return OrderRejected if ctx.is_write else ExchangeError


_CLASSES = {
    Outcome.UNKNOWN: _unknown_class,
    Outcome.TRANSIENT: lambda ctx: TransientError,
    Outcome.RESYNC: lambda ctx: TransientError,
    Outcome.AUTH: lambda ctx: AuthError,
    Outcome.NOT_FOUND: lambda ctx: OrderNotFound,
    Outcome.REJECTED: _rejected_class,
    Outcome.FUNDS: lambda ctx: InsufficientFunds,
    Outcome.RATE: lambda ctx: TransientError,
}


def _by_status(reply: VenueReply, ctx: CallContext) -> ExchangeError:
    where = f"{ctx.method} {ctx.path}"
    if reply.status >= 500:
        return _unknown_class(ctx)(f"{where} failed ({_venue(reply)}): Binance had an internal "
                                   f"error; {_RESEND if ctx.is_write else 'try again'}", **_kw(reply))
    if reply.code is None:
        return _non_json(reply, ctx)
    if reply.status == 403:
        return ExchangeError(f"{where} was blocked by Binance's firewall ({_venue(reply)}): check "
                             "the request for unusual text (e.g. SQL words in client ids)", **_kw(reply))
    return _rejected_class(ctx)(f"{where} was refused ({_venue(reply)})", **_kw(reply))


def _non_json(reply: VenueReply, ctx: CallContext) -> ExchangeError:
    where = f"{ctx.method} {ctx.path}"
    if reply.status == 403:
        return ExchangeError(f"{where} was blocked by Binance's firewall (HTTP 403, no JSON body): "
                             "check the request for unusual text (e.g. SQL words in client ids)",
                             http_status=reply.status)
    return ExchangeError(f"{where} got HTTP {reply.status} with no Binance error in the body (an "
                         "HTML or empty page): check PLANRUNNER_BINANCE_URL points at the Binance "
                         "REST API", http_status=reply.status)


def unreadable_success(status: int, ctx: CallContext) -> ExchangeError:
    """A 2xx whose body is not JSON: for a write the order may exist."""
    where = f"{ctx.method} {ctx.path}"
    if ctx.is_write:
        return OutcomeUnknown(f"{where} returned HTTP {status} with a body that is not JSON; the "
                              f"request may have been executed: {_RESEND}", http_status=status)
    return ExchangeError(f"{where} returned HTTP {status} with a body that is not JSON (an HTML or "
                         "empty page): check PLANRUNNER_BINANCE_URL points at the Binance REST API",
                         http_status=status)


def _rate_limited(reply: VenueReply, *, banned: bool) -> RateLimited:
    wait = f" for {reply.retry_after:.0f} s" if reply.retry_after is not None else ""
    if banned:
        text = (f"Binance has banned this IP{wait} ({_venue(reply)}) after too many requests; "
                "planrunner sends nothing until the ban ends. Wait, then run the command again.")
    else:
        text = (f"Binance rate limit hit ({_venue(reply)}); nothing was executed. Wait{wait} "
                "before sending more.")
    return RateLimited(text, retry_after=reply.retry_after, banned=banned, **_kw(reply))


# --- advice that needs the request or the market rules -----------------------------------------

def _filter_name(message: str) -> str | None:
    marker = "filter failure:"
    lowered = message.lower()
    if marker not in lowered:
        return None
    return message[lowered.index(marker) + len(marker):].strip().split()[0].strip(".,") or None


def _allowed(name: str, rules: MarketRules) -> str | None:
    table = {
        "PRICE_FILTER": lambda r: f"prices must be multiples of {fmt(r.tick_size)} between "
                                  f"{fmt(r.min_price)} and {fmt(r.max_price)} (0 = no bound)",
        "LOT_SIZE": lambda r: f"quantities must be multiples of {fmt(r.step_size)} between "
                              f"{fmt(r.min_qty)} and {fmt(r.max_qty)}",
        "MARKET_LOT_SIZE": lambda r: f"market quantities must be multiples of "
                                     f"{fmt(r.effective_market_step)} between "
                                     f"{fmt(r.effective_market_min_qty)} and {fmt(r.effective_market_max_qty)}",
        "NOTIONAL": lambda r: f"price x quantity must be at least {fmt(r.min_notional)} "
                              f"{r.quote_asset}" + (f" and at most {fmt(r.max_notional)}"
                                                    if r.max_notional > 0 else ""),
        "MIN_NOTIONAL": lambda r: f"price x quantity must be at least {fmt(r.min_notional)} {r.quote_asset}",
        "PERCENT_PRICE_BY_SIDE": lambda r: f"a BUY price must be within x{fmt(r.bid_multiplier_down)}"
                                           f"..x{fmt(r.bid_multiplier_up)} and a SELL within "
                                           f"x{fmt(r.ask_multiplier_down)}..x{fmt(r.ask_multiplier_up)} "
                                           "of the average price",
        "TRAILING_DELTA": lambda r: f"trailingDelta must be {r.min_trailing_below_delta}.."
                                    f"{r.max_trailing_below_delta} (below) or "
                                    f"{r.min_trailing_above_delta}..{r.max_trailing_above_delta} (above) BIPS",
        "MAX_NUM_ORDERS": lambda r: f"at most {r.max_num_orders} open orders on {r.symbol}",
        "MAX_NUM_ALGO_ORDERS": lambda r: f"at most {r.max_num_algo_orders} open stop/take-profit orders",
        "MAX_NUM_ORDER_LISTS": lambda r: f"at most {r.max_num_order_lists} open order lists",
    }
    table["PERCENT_PRICE"] = table["PERCENT_PRICE_BY_SIDE"]
    describe = table.get(name)
    return describe(rules) if describe else None


def filter_hint(message: str, ctx: CallContext) -> str:
    name = _filter_name(message)
    if name is None:
        return "the order was refused before reaching the matching engine; change the values it names"
    allowed = _allowed(name, ctx.rules) if ctx.rules is not None else None
    suffix = f": {allowed}" if allowed else "; see the symbol's filters (planrunner markets SYMBOL)"
    return f"the order breaks the {name} filter{suffix}"


def _param_decimal(params: Mapping[str, str], *names: str) -> Decimal | None:
    for name in names:
        raw = params.get(name)
        if raw:
            try:
                return to_decimal(raw)
            except ValueError:
                return None
    return None


def funds_hint(ctx: CallContext) -> str:
    """Which balance is short, when the request and the rules say so."""
    params, rules = ctx.params, ctx.rules
    side = params.get("side") or params.get("workingSide")
    if rules is None or side not in ("BUY", "SELL"):
        return "the account balance does not cover the order; deposit or reduce the quantity"
    qty = _param_decimal(params, "quantity", "workingQuantity")
    if side == "SELL":
        need = f" ({fmt(qty)} {rules.base_asset} needed)" if qty is not None else ""
        return f"the {rules.base_asset} balance is short{need}; deposit or reduce the quantity"
    price = _param_decimal(params, "price", "workingPrice")
    quote = _param_decimal(params, "quoteOrderQty")
    need_amount = quote if quote is not None else (qty * price if qty and price else None)
    need = f" (about {fmt(need_amount)} {rules.quote_asset} needed)" if need_amount else ""
    return f"the {rules.quote_asset} balance is short{need}; deposit or reduce the quantity"
