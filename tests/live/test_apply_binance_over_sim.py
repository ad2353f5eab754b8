"""The whole apply lifecycle with `exchange: binance`: the real BinanceClient over real HTTP
(requests) against `planrunner sim` on a free loopback port, driven through the CLI."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from planrunner.cli import main
from planrunner.sim.remote import SimControl
from planrunner.sim.server import SimOptions, start_simulator
from planrunner.state import StateStore

EXAMPLES = Path(__file__).resolve().parents[2] / "plans" / "examples"
KEY, SECRET = "live-test-key-not-real", "live-test-secret-not-real"


@pytest.fixture
def sim(monkeypatch, tmp_path):
    running = start_simulator(SimOptions(api_key=KEY, api_secret=SECRET))  # wall clock
    monkeypatch.setenv("PLANRUNNER_BINANCE_URL", running.base_url)
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    monkeypatch.delenv("BINANCE_PRIVATE_KEY_FILE", raising=False)
    monkeypatch.setenv("PLANRUNNER_PAPER_DIR", str(tmp_path / "paper"))
    yield running
    running.stop()


def binance_copy(tmp_path: Path, example: str) -> Path:
    target = tmp_path / example
    shutil.copy(EXAMPLES / example, target)
    text = target.read_text().replace("exchange: paper", "exchange: binance")
    assert "exchange: binance" in text
    target.write_text(text)
    return target


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_market_entry_lifecycle_over_http(sim, tmp_path):
    control = SimControl(sim.base_url)
    plan = binance_copy(tmp_path, "quickstart.yaml")

    code, out = run("apply", "--yes", str(plan))
    assert code == 0, out
    assert "enforced by the exchange" in out  # live: returns once the exchange holds the exits
    state = StateStore(tmp_path / "quickstart.state.json").load()
    placed = {o["clientOrderId"] for o in control.orders()}
    expected = {leg for step in state.steps for leg in step.leg_ids()}
    assert placed == expected and len(placed) == 5  # market entry + 2 OCOs of 2 legs

    control.set_price("BTCUSDT", Decimal("7400"))  # both take-profits fill on the exchange
    code, out = run("apply", "--yes", str(plan))
    assert code == 0, out
    state = StateStore(tmp_path / "quickstart.state.json").load()
    assert all(s.status.value == "done" for s in state.steps)
    assert state.realised_pnl is not None and state.realised_pnl > 0
    assert {o["clientOrderId"] for o in control.orders()} == expected  # nothing sent twice

    code, out = run("apply", "--yes", str(plan))
    assert code == 0 and "No changes" in out


def test_limit_plan_returns_once_the_exchange_arms_every_exit(sim, tmp_path):
    control = SimControl(sim.base_url)
    plan = binance_copy(tmp_path, "sol-risk.yaml")
    code, out = run("apply", "--yes", str(plan))
    assert code == 0, out
    orders = control.orders()
    assert orders and all(o["clientOrderId"].startswith("sol-risk-") for o in orders)
    assert {o["status"] for o in orders} <= {"NEW", "PENDING_NEW"}
    code, out = run("status", str(plan), "--format", "json")
    assert code == 0
    assert json.loads(out)["complete"] is False


def test_plan_verify_sends_only_test_orders(sim, tmp_path):
    control = SimControl(sim.base_url)
    plan = binance_copy(tmp_path, "btc-ladder.yaml")
    code, out = run("plan", "--verify", str(plan))
    assert code == 0, out
    assert "12 of 12 orders accepted" in out
    assert control.orders() == []
    paths = [r.get("path") for r in control.requests()]
    assert paths.count("/api/v3/order/test") == 12


def test_exit_fills_carry_the_real_commissions_and_pnl_is_exact(sim, tmp_path):
    """A GET /api/v3/order answer has no fills: the exits' real trades (ids, commissions) come
    from GET /api/v3/myTrades?orderId=, so realised P&L is computed, not estimated."""
    from planrunner.exchanges.binance.client import BinanceClient

    control = SimControl(sim.base_url)
    plan = binance_copy(tmp_path, "quickstart.yaml")
    code, out = run("apply", "--yes", str(plan))
    assert code == 0, out
    control.set_price("BTCUSDT", Decimal("7400"))  # both take-profits fill on the exchange
    code, out = run("apply", "--yes", str(plan))
    assert code == 0, out
    state = StateStore(tmp_path / "quickstart.state.json").load()
    assert all(s.status.value == "done" for s in state.steps)

    trades = BinanceClient.from_env("binance").my_trades("BTCUSDT")
    sells = [t for t in trades if not t.is_buyer]
    assert len(sells) >= 2 and all(t.fill.commission > 0 for t in sells)
    real = {(t.fill.trade_id, t.fill.commission, t.fill.commission_asset) for t in trades}
    assert {(f.trade_id, f.commission, f.commission_asset) for f in state.fills} == real

    buys = [t for t in trades if t.is_buyer]
    bought = sum((t.fill.qty for t in buys), Decimal(0))
    average = sum((t.fill.qty * t.fill.price for t in buys), Decimal(0)) / bought
    gross = sum(((t.fill.price - average) * t.fill.qty for t in sells), Decimal(0))
    fees = sum((t.fill.commission * (t.fill.price if t.fill.commission_asset == "BTC" else 1)
                for t in trades), Decimal(0))
    assert state.realised_pnl.quantize(Decimal("0.01")) == (gross - fees).quantize(Decimal("0.01"))
