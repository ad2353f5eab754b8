"""exchangeInfo symbol entries -> MarketRules, on the built-in table and on recorded Binance JSON."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from planrunner.exchanges.rules import builtin_rules, parse_symbol

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_builtin_table_has_the_required_symbols_with_real_filters():
    rules = builtin_rules()
    assert {"BTCUSDT", "ETHUSDT", "BNBBTC", "SOLUSDT"} <= set(rules)
    btc = rules["BTCUSDT"]
    assert (btc.tick_size, btc.step_size, btc.min_notional) == (Decimal("0.01"), Decimal("0.00001"), Decimal(5))
    assert btc.opoco_allowed and btc.otoco_allowed and btc.allow_trailing_stop
    assert btc.min_trailing_below_delta == 10 and btc.max_trailing_below_delta == 2000
    assert rules["BNBBTC"].min_notional == Decimal("0.0001")


def test_recorded_2022_exchange_info_with_legacy_filters_parses():
    path = SHARED / "nautilus_trader/tests/integration_tests/adapters/binance/resources/http_responses/http_spot_market_exchange_info.json"
    if not path.exists():
        pytest.skip("shared test data not present")
    data = json.loads(path.read_text())
    parsed = {s["symbol"]: parse_symbol(s) for s in data["symbols"]}
    btc = parsed["BTCUSDT"]
    assert btc.tick_size > 0 and btc.step_size > 0
    assert btc.min_notional > 0  # legacy MIN_NOTIONAL mapped onto the same field
    assert btc.bid_multiplier_up == btc.ask_multiplier_up > 0  # legacy PERCENT_PRICE mirrored on both sides
