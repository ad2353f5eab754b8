"""Against the real Binance Spot testnet. Skipped unless PLANRUNNER_TESTNET=1 and testnet keys
are in the environment (BINANCE_API_KEY with BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_FILE).
Nothing here places an order: market data, account and POST /api/v3/order/test only."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from planrunner.exchanges.base import ExchangeRequest

pytestmark = [
    pytest.mark.testnet,
    pytest.mark.skipif(os.environ.get("PLANRUNNER_TESTNET") != "1",
                       reason="real testnet not requested (set PLANRUNNER_TESTNET=1 and keys)"),
]


@pytest.fixture
def testnet():
    from planrunner.exchanges.binance.client import BinanceClient
    return BinanceClient.from_env("binance-testnet")


def test_market_context_reads_real_filters(testnet):
    market = testnet.market_context("BTCUSDT")
    assert market.rules.tick_size > 0 and market.rules.step_size > 0
    assert market.last_price > 0


def test_order_test_accepts_a_valid_limit_order(testnet):
    market = testnet.market_context("BTCUSDT")
    price = (market.last_price * Decimal("0.9")).quantize(market.rules.tick_size)
    qty = max(market.rules.min_qty, (market.rules.min_notional * 2 / price)
              .quantize(market.rules.step_size))
    request = ExchangeRequest("POST", "/api/v3/order", (
        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
        ("quantity", format(qty, "f")), ("price", format(price, "f"))))
    testnet.test_order(request)
