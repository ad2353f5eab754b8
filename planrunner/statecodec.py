"""State <-> plain JSON data. Strict on the way in: a wrong type anywhere is a CodecError naming
the key, so a damaged state file is refused instead of half-trusted. Decimals are strings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from planrunner.state import DriftRecord, FillRecord, LegIds, OrderRecord, State, Step, StepStatus


class CodecError(ValueError):
    """A state document does not have the expected shape."""


def _dec(value: Decimal) -> str:
    return format(value, "f")


def _opt_dec(value: Decimal | None) -> str | None:
    return None if value is None else _dec(value)


class _Reader:
    """Typed access to one JSON object; every error names where it happened."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise CodecError(f"{where} should be an object")
        self.data = data
        self.where = where
        self.seen: set[str] = set()

    def _get(self, key: str, types: tuple[type, ...], optional: bool = False) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if optional:
                return None
            raise CodecError(f"{self.where}.{key} is missing")
        value = self.data[key]
        if value is None and optional:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise CodecError(f"{self.where}.{key} has the wrong type")
        return value

    def str_(self, key: str) -> str:
        return self._get(key, (str,))

    def opt_str(self, key: str) -> str | None:
        return self._get(key, (str,), optional=True)

    def int_(self, key: str) -> int:
        return self._get(key, (int,))

    def count(self, key: str) -> int:
        """A counter such as the serial: an integer that is never negative."""
        value = self.int_(key)
        if value < 0:
            raise CodecError(f"{self.where}.{key} is negative ({value})")
        return value

    def opt_int(self, key: str) -> int | None:
        return self._get(key, (int,), optional=True)

    def dec(self, key: str) -> Decimal:
        return self._parse_dec(key, self._get(key, (str,)))

    def opt_dec(self, key: str) -> Decimal | None:
        raw = self._get(key, (str,), optional=True)
        return None if raw is None else self._parse_dec(key, raw)

    def list_(self, key: str) -> list[Any]:
        return self._get(key, (list,))

    def obj(self, key: str) -> dict[str, Any]:
        return self._get(key, (dict,))

    def closed(self, value: Any, *also: str) -> Any:
        """`value`, once every key was read: an unknown key would be dropped by the next save."""
        extra = sorted(set(self.data) - self.seen - set(also))
        if extra:
            raise CodecError(f"{self.where} has unknown key(s) {', '.join(map(repr, extra))} "
                             "(hand-edited, or written by a newer planrunner)")
        return value

    def _parse_dec(self, key: str, raw: str) -> Decimal:
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise CodecError(f"{self.where}.{key} is not a decimal: {raw!r}") from None
        if not value.is_finite():
            raise CodecError(f"{self.where}.{key} is not a finite decimal: {raw!r}")
        return value


def _leg_to(leg: LegIds) -> dict[str, Any]:
    return {"role": leg.role, "client_order_id": leg.client_order_id, "order_id": leg.order_id}


def _leg_from(data: Any, where: str) -> LegIds:
    r = _Reader(data, where)
    return r.closed(LegIds(role=r.str_("role"), client_order_id=r.str_("client_order_id"),
                           order_id=r.opt_int("order_id")))


def _step_to(step: Step) -> dict[str, Any]:
    data = _step_core(step)
    if step.cancel_sent_ms is not None:  # written only when set: older files stay byte-identical
        data["cancel_sent_ms"] = step.cancel_sent_ms
    return data


def _step_core(step: Step) -> dict[str, Any]:
    return {
        "id": step.id, "kind": step.kind, "status": step.status.value,
        "client_id": step.client_id, "order_id": step.order_id,
        "order_list_id": step.order_list_id, "legs": [_leg_to(leg) for leg in step.legs],
        "endpoint": step.endpoint, "request": [[k, v] for k, v in step.request],
        "filled_qty": _dec(step.filled_qty), "avg_price": _opt_dec(step.avg_price),
        "quote_qty": _dec(step.quote_qty), "fees": {a: _dec(v) for a, v in step.fees},
        "sent_ms": step.sent_ms, "placed_ms": step.placed_ms, "finished_ms": step.finished_ms,
        "attempts": step.attempts, "last_error": step.last_error,
    }


def _status(raw: str, where: str) -> StepStatus:
    try:
        return StepStatus(raw)
    except ValueError:
        raise CodecError(f"{where}.status has an unknown value {raw!r}") from None


def _pairs(raw: list[Any], where: str) -> tuple[tuple[str, str], ...]:
    ok = all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
             for p in raw)
    if not ok:
        raise CodecError(f"{where} should be a list of [name, value] string pairs")
    return tuple((k, v) for k, v in raw)


def _fees(raw: dict[str, Any], where: str) -> tuple[tuple[str, Decimal], ...]:
    r = _Reader(raw, where)
    return r.closed(tuple((asset, r.dec(asset)) for asset in sorted(raw)))


def _step_from(data: Any, where: str) -> Step:
    r = _Reader(data, where)
    return r.closed(Step(
        id=r.str_("id"), kind=r.str_("kind"), status=_status(r.str_("status"), where),
        client_id=r.opt_str("client_id"), order_id=r.opt_int("order_id"),
        order_list_id=r.opt_int("order_list_id"),
        legs=tuple(_leg_from(x, f"{where}.legs[{i}]") for i, x in enumerate(r.list_("legs"))),
        endpoint=r.opt_str("endpoint"), request=_pairs(r.list_("request"), f"{where}.request"),
        filled_qty=r.dec("filled_qty"), avg_price=r.opt_dec("avg_price"),
        quote_qty=r.dec("quote_qty"), fees=_fees(r.obj("fees"), f"{where}.fees"),
        sent_ms=r.opt_int("sent_ms"), placed_ms=r.opt_int("placed_ms"),
        finished_ms=r.opt_int("finished_ms"), attempts=r.int_("attempts"),
        last_error=r.opt_str("last_error"), cancel_sent_ms=r.opt_int("cancel_sent_ms")))


def _order_to(order: OrderRecord) -> dict[str, Any]:
    return {
        "order_id": order.order_id, "side": order.side, "type": order.type,
        "status": order.status, "orig_qty": _dec(order.orig_qty),
        "executed_qty": _dec(order.executed_qty),
        "cumulative_quote_qty": _dec(order.cumulative_quote_qty), "price": _dec(order.price),
        "stop_price": _dec(order.stop_price), "order_list_id": order.order_list_id,
        "update_time_ms": order.update_time_ms, "trade_ids": list(order.trade_ids),
    }


def _order_from(client_order_id: str, data: Any) -> OrderRecord:
    where = f"orders[{client_order_id!r}]"
    r = _Reader(data, where)
    trade_ids = r.list_("trade_ids")
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in trade_ids):
        raise CodecError(f"{where}.trade_ids should be a list of integers")
    return r.closed(OrderRecord(
        client_order_id=client_order_id, order_id=r.int_("order_id"), side=r.str_("side"),
        type=r.str_("type"), status=r.str_("status"), orig_qty=r.dec("orig_qty"),
        executed_qty=r.dec("executed_qty"), cumulative_quote_qty=r.dec("cumulative_quote_qty"),
        price=r.dec("price"), stop_price=r.dec("stop_price"),
        order_list_id=r.int_("order_list_id"), update_time_ms=r.int_("update_time_ms"),
        trade_ids=tuple(trade_ids)))


def _fill_to(fill: FillRecord) -> dict[str, Any]:
    return {
        "client_order_id": fill.client_order_id, "trade_id": fill.trade_id, "side": fill.side,
        "price": _dec(fill.price), "qty": _dec(fill.qty), "commission": _dec(fill.commission),
        "commission_asset": fill.commission_asset, "time_ms": fill.time_ms,
    }


def _fill_from(data: Any, where: str) -> FillRecord:
    r = _Reader(data, where)
    return r.closed(FillRecord(
        client_order_id=r.str_("client_order_id"), trade_id=r.int_("trade_id"),
        side=r.str_("side"), price=r.dec("price"), qty=r.dec("qty"),
        commission=r.dec("commission"), commission_asset=r.str_("commission_asset"),
        time_ms=r.int_("time_ms")))


def _drift_to(record: DriftRecord) -> dict[str, Any]:
    return {"step": record.step, "client_order_id": record.client_order_id, "kind": record.kind,
            "change": record.change, "time_ms": record.time_ms, "action": record.action,
            "unsafe": record.unsafe}


def _drift_from(data: Any, where: str) -> DriftRecord:
    r = _Reader(data, where)
    unsafe = r._get("unsafe", (bool,), optional=True)
    return r.closed(DriftRecord(step=r.str_("step"), client_order_id=r.str_("client_order_id"),
                       kind=r.str_("kind"), change=r.str_("change"), time_ms=r.int_("time_ms"),
                       action=r.str_("action"), unsafe=bool(unsafe)))


def _drift_list(r: _Reader) -> tuple[DriftRecord, ...]:
    raw = r._get("drift", (list,), optional=True) or []
    return tuple(_drift_from(x, f"drift[{i}]") for i, x in enumerate(raw))


def state_to_dict(state: State, format_version: int) -> dict[str, Any]:
    data = _state_core(state, format_version)
    if state.drift:  # written only when there is some: older files stay byte-identical
        data["drift"] = [_drift_to(d) for d in state.drift]
    if state.compiled_price is not None:
        data["compiled_price"] = _opt_dec(state.compiled_price)
    if state.cost_basis is not None:
        data["cost_basis"] = _opt_dec(state.cost_basis)
    return data


def _state_core(state: State, format_version: int) -> dict[str, Any]:
    return {
        "format_version": format_version, "lineage": state.lineage, "serial": state.serial,
        "namespace": state.namespace, "plan_fingerprint": state.plan_fingerprint,
        "plan_name": state.plan_name, "exchange": state.exchange, "symbol": state.symbol,
        "steps": [_step_to(s) for s in state.steps],
        "orders": {o.client_order_id: _order_to(o) for o in state.orders},
        "fills": [_fill_to(f) for f in state.fills],
        "realised_pnl": _opt_dec(state.realised_pnl),
    }


def state_from_dict(data: Any) -> State:
    r = _Reader(data, "state")
    orders = r.obj("orders")
    return r.closed(State(
        lineage=r.str_("lineage"), namespace=r.str_("namespace"),
        plan_fingerprint=r.str_("plan_fingerprint"), plan_name=r.str_("plan_name"),
        exchange=r.str_("exchange"), symbol=r.str_("symbol"), serial=r.count("serial"),
        steps=tuple(_step_from(x, f"steps[{i}]") for i, x in enumerate(r.list_("steps"))),
        orders=tuple(_order_from(cid, orders[cid]) for cid in sorted(orders)),
        fills=tuple(_fill_from(x, f"fills[{i}]") for i, x in enumerate(r.list_("fills"))),
        realised_pnl=r.opt_dec("realised_pnl"), compiled_price=r.opt_dec("compiled_price"),
        cost_basis=r.opt_dec("cost_basis"),
        drift=_drift_list(r)), "format_version")
