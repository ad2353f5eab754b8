"""A small client for the simulator's /sim/ control API over HTTP (stdlib urllib), for tests,
the contract suite's market driver and the chaos benchmarks: move prices, read every order and
balance, inject and clear faults, cancel an order "by hand".
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from planrunner.errors import PlanrunnerError
from planrunner.money import fmt


class SimControlError(PlanrunnerError):
    """The simulator refused a control request; the message carries its answer."""


class SimControl:
    def __init__(self, base_url: str, timeout: float = 10.0):
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    def _call(self, method: str, path: str, params: dict[str, str] | None = None,
              body: dict[str, Any] | None = None) -> Any:
        url = f"{self._base}{path}" + (f"?{urlencode(params)}" if params else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                return json.loads(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise SimControlError(f"{method} {path} -> HTTP {exc.code}: "
                                  f"{exc.read().decode('utf-8', 'replace')}") from None
        except urllib.error.URLError as exc:
            raise SimControlError(f"{method} {path}: the simulator at {self._base} does not "
                                  f"answer ({exc.reason}); is `planrunner sim` running?") from None

    def set_price(self, symbol: str, price: Decimal) -> list[dict[str, Any]]:
        """A trade at `price` now; returns the orders it changed."""
        return self._call("POST", "/sim/price", {"symbol": symbol, "price": fmt(price)})["changed"]

    def orders(self) -> list[dict[str, Any]]:
        return self._call("GET", "/sim/orders")["orders"]

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        rows = self._call("GET", "/sim/balances")["balances"]
        return {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in rows}

    def add_fault(self, kind: str, **fields: Any) -> dict[str, Any]:
        return self._call("POST", "/sim/faults", body={"kind": kind, **fields})

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/sim/faults")

    def cancel(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        """Cancel as a person would in the exchange's app (the order is renamed, as on Binance)."""
        return self._call("POST", "/sim/cancel", {"symbol": symbol,
                                                  "origClientOrderId": client_order_id})

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/sim/requests")["requests"]

    def time(self) -> dict[str, int]:
        return self._call("GET", "/sim/time")
