"""plan --verify: every leg becomes a single test order; rejections are reported per leg."""

from decimal import Decimal

from planrunner.commands.verify import render, verify
from planrunner.compile import compile_plan
from planrunner.errors import OrderRejected
from planrunner.exchanges.factory import paper_capabilities, paper_market_context
from planrunner.plan import load_plan

EXAMPLE = "plans/examples/btc-limit-dip.yaml"


class RecordingExchange:
    """Accepts every test order except those of one type, and remembers what it was sent."""

    def __init__(self, refuse_type: str | None = None):
        self.refuse_type = refuse_type
        self.sent = []

    def test_order(self, request):
        self.sent.append(request)
        if request.param("type") == self.refuse_type:
            raise OrderRejected("Filter failure: PRICE_FILTER", code=-1013)


def compiled():
    plan = load_plan(EXAMPLE)
    market = paper_market_context(plan.symbol)
    return compile_plan(plan, market, paper_capabilities(), "test00"), market


def test_every_leg_is_sent_as_a_single_order_test_request():
    action_plan, market = compiled()
    exchange = RecordingExchange()
    checks = verify(action_plan, exchange, market)
    legs = [leg for a in action_plan.actions for leg in a.legs]
    assert len(checks) == len(legs) == len(exchange.sent)
    assert all(r.endpoint == "POST /api/v3/order" for r in exchange.sent)
    pending = [r for r in exchange.sent if r.param("type") == "LIMIT_MAKER"]
    assert pending and all(Decimal(r.param("quantity")) > 0 for r in pending)  # OPO legs sized
    assert all(c.error is None for c in checks)


def test_a_rejected_leg_is_named_with_the_venue_message():
    action_plan, market = compiled()
    checks = verify(action_plan, RecordingExchange(refuse_type="STOP_LOSS_LIMIT"), market)
    refused = [c for c in checks if c.error]
    assert refused and all("PRICE_FILTER" in c.error for c in refused)
    text = render(checks, "binance")
    assert "REJECTED: Filter failure: PRICE_FILTER" in text
    assert f"{len(checks) - len(refused)} of {len(checks)} orders accepted" in text
