"""Market scripts for the chaos suite: for each example plan, the trades on the simulator that
fill its resting entry and the trades that close its position by each exit route (take-profit or
stop), and which order-list endpoint it uses first. Prices come from the plan files
(plans/examples/*.yaml) and the simulator's opening prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from planrunner.money import ZERO

D = Decimal


@dataclass(frozen=True, slots=True)
class Script:
    plan: str  # file name under plans/examples
    symbol: str
    opening: Decimal  # set at the start of every episode: absolute prices below assume it
    entry: tuple[Decimal, ...] = ()  # trades filling a resting entry; () for market/none
    exits: tuple[tuple[str, tuple[Decimal, ...]], ...] = ()  # (route, trades closing it all)
    side: str = "BUY"  # the entry's side; exits take the other
    held: Decimal = ZERO  # base held before the plan (entry: none)
    first_order_path: str | None = None  # the first POST /api/v3/order, if before any list
    list_path: str | None = None  # the first order-list endpoint it places
    lives_long: bool = False  # apply stays up: a plain entry to fill, or an expire_after timer

    def route(self, name: str) -> tuple[Decimal, ...]:
        return dict(self.exits)[name]

    @property
    def routes(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.exits)


ORDER = "/api/v3/order"
OCO, OTOCO, OPOCO = ("/api/v3/orderList/oco", "/api/v3/orderList/otoco",
                     "/api/v3/orderList/opoco")

SCRIPTS: tuple[Script, ...] = (
    Script("quickstart.yaml", "BTCUSDT", D("7195.24"),
           exits=(("take-profit", (D(7400),)), ("stop", (D(7100), D(7115)))),
           first_order_path=ORDER, list_path=OCO),
    Script("btc-limit-dip.yaml", "BTCUSDT", D("7195.24"), entry=(D(7140),),
           exits=(("take-profit", (D(7500),)), ("stop", (D(7045), D(7048)))), list_path=OPOCO,
           lives_long=True),
    Script("btc-ladder.yaml", "BTCUSDT", D("7195.24"), entry=(D(7090),),
           exits=(("take-profit", (D(7500),)), ("stop", (D(6945), D(6948)))), list_path=OPOCO,
           lives_long=True),
    Script("btc-partial-fill.yaml", "BTCUSDT", D("7195.24"), entry=(D(7140),),
           exits=(("take-profit", (D(7400),)), ("stop", (D(7040), D(7041)))), list_path=OPOCO),
    Script("btc-protect-holding.yaml", "BTCUSDT", D("7195.24"), held=D("0.01"),
           exits=(("take-profit", (D(7400),)), ("stop", (D(6790), D(6791)))), list_path=OCO),
    Script("eth-breakout.yaml", "ETHUSDT", D(130), entry=(D("132.2"), D("132.3")),
           exits=(("take-profit", (D(138),)), ("stop", (D("129.5"), D("128.1"), D("129.4")))),
           first_order_path=ORDER, list_path=OCO,
           lives_long=True),
    Script("eth-short-sell.yaml", "ETHUSDT", D(130), entry=(D("131.6"),), side="SELL",
           exits=(("take-profit", (D(124),)), ("stop", (D("134.2"), D("134.3")))),
           list_path=OTOCO),
    Script("sol-risk.yaml", "SOLUSDT", D(150), entry=(D("147.9"),),
           exits=(("take-profit", (D(161),)), ("stop", (D("144.9"), D("144.95")))),
           list_path=OPOCO),
    Script("sol-stop-market.yaml", "SOLUSDT", D(150),
           exits=(("stop", (D(140), D(137), D("136.9"))),), first_order_path=ORDER),
    Script("bnbbtc-trailing.yaml", "BNBBTC", D("0.0019"),
           exits=(("take-profit", (D("0.00200"),)),
                  ("stop", (D("0.00186"), D("0.00183"), D("0.00186")))),
           first_order_path=ORDER, list_path=OCO),
)


def script(plan: str) -> Script:
    for candidate in SCRIPTS:
        if candidate.plan == plan:
            return candidate
    raise KeyError(f"no market script for {plan}; add one to bench/chaos_markets.py")
