"""A small, seeded version of the chaos suite (bench/chaos): real `planrunner apply` processes
against the in-process Binance simulator, SIGKILLed at seeded random moments and resumed, plus
one episode of each fault in the matrix. All four counters must be zero and every plan must
complete. A failure names the scenario, plan and seed; replay one with
`.venv/bin/python bench/chaos --seed N` or run_episode(Task(...)) from bench/chaos_scenarios.py.

The harness lives in bench/ (chaos_lib, chaos_checks, chaos_markets, chaos_scenarios), shared
with the script; the checks themselves are shown able to fail at the bottom.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import chaos_checks as checks
from chaos_lib import Tally
from chaos_scenarios import Task, run_episode

from planrunner.state import LegIds, Step, StepStatus, new_state

SEED = 20261124
# (scenario, plan, SIGKILLs)
EPISODES = (
    ("sigkill quickstart", "quickstart.yaml", 4),
    ("sigkill btc-limit-dip", "btc-limit-dip.yaml", 3),
    ("sigkill eth-short-sell", "eth-short-sell.yaml", 3),
    ("sigkill eth-breakout", "eth-breakout.yaml", 3),
    ("5xx after executing (order POST)", "quickstart.yaml", 0),
    ("dropped response (order POST)", "sol-stop-market.yaml", 0),
    ("dropped response (order-list POST)", "quickstart.yaml", 0),
    ("429 with Retry-After", "sol-risk.yaml", 0),
    ("418 ban", "quickstart.yaml", 0),
    ("clock skew beyond recvWindow", "btc-partial-fill.yaml", 0),
    ("partial fill of a resting entry", "sol-risk.yaml", 0),
    ("manual cancel of a protective order", "quickstart.yaml", 0),
    ("fill while down", "quickstart.yaml", 0),
    ("fill while down", "btc-protect-holding.yaml", 0),  # absolute exits the market passed
)


def _tasks(tmp_path: Path) -> list[Task]:
    pycache = tmp_path / "pycache"
    return [Task(name, plan, SEED + n, kills, str(tmp_path), str(pycache))
            for n, (name, plan, kills) in enumerate(EPISODES)]


def _findings(tally: Tally) -> list[str]:
    return sorted(set().union(*tally.found.values()) | tally.other)


@pytest.mark.slow
def test_seeded_chaos_finds_nothing(tmp_path: Path) -> None:
    total = Tally()
    with ThreadPoolExecutor(max_workers=2) as pool:  # each episode has its own simulator
        for _, tally in pool.map(run_episode, _tasks(tmp_path)):
            total.merge(tally)
    assert _findings(total) == [], total.line()
    assert total.episodes == len(EPISODES)
    assert total.trials >= len(EPISODES)  # every episode disrupted apply at least once
    assert total.line().endswith(
        "duplicates 0  lost steps 0  unprotected after resume 0  tracebacks 0")


def _order(cid: str, side: str, status: str, qty: str, executed: str, list_id: int = -1,
           fills: tuple = ()) -> dict:
    return {"clientOrderId": cid, "origClientOrderId": cid, "side": side, "status": status,
            "origQty": qty, "executedQty": executed, "orderListId": list_id, "fills": list(fills)}


def test_checks_count_duplicates_lost_steps_and_sending() -> None:
    state = new_state(plan_name="p", plan_fingerprint="f", exchange="binance", symbol="BTCUSDT")
    state = state.with_step(Step(id="entry", kind="place_order", status=StepStatus.PLACED,
                                 client_id="c-e", legs=(LegIds("entry", "c-e"),)))
    state = state.with_step(Step(id="exit-1", kind="place_order_list",
                                 status=StepStatus.SENDING, client_id="c-x1",
                                 legs=(LegIds("tp", "c-x1tp"), LegIds("sl", "c-x1sl"))))
    entry = _order("c-e", "BUY", "FILLED", "0.01", "0.01")
    assert checks.lost_steps([entry], state, finished=False) == []
    assert len(checks.lost_steps([], state, finished=False)) == 1  # placed, exchange lacks it
    assert len(checks.lost_steps([entry], state, finished=True)) == 1  # left `sending`
    assert checks.duplicates([entry]) == []
    renamed = dict(entry, clientOrderId="simcancel-1")  # a cancel renames; the id was reused
    assert checks.duplicates([renamed, entry]) == ["client id c-e placed 2 times"]
    assert checks.orphans([entry, _order("stray", "BUY", "NEW", "1", "0")], state) == [
        "order stray on the exchange is in no step of the state"]


def test_checks_measure_protection() -> None:
    fee = {"commission": "0.00001", "commissionAsset": "BTC"}
    entry = _order("e", "BUY", "FILLED", "0.01", "0.01", fills=(fee,))
    tp = _order("x1tp", "SELL", "NEW", "0.00999", "0", list_id=1)
    sl = _order("x1sl", "SELL", "NEW", "0.00999", "0", list_id=1)
    step = Decimal("0.00001")
    assert checks.exposure([entry], "BUY", "BTC", Decimal(0)) == Decimal("0.00999")
    assert checks.coverage([entry, tp, sl], "BUY") == Decimal("0.00999")  # an OCO counts once
    assert checks.unprotected([entry, tp, sl], "BUY", "BTC", Decimal(0), step) == []
    cancelled = dict(sl, status="CANCELED")
    expired = dict(tp, status="EXPIRED")
    assert len(checks.unprotected([entry, expired, cancelled], "BUY", "BTC", Decimal(0),
                                  step)) == 1
    filled = dict(tp, status="FILLED", executedQty="0.00999")
    assert checks.unprotected([entry, filled, dict(sl, status="EXPIRED")], "BUY", "BTC",
                              Decimal(0), step) == []  # a completed exit is no position
    held = checks.unprotected([], "BUY", "BTC", Decimal("0.01"), step)  # entry: none
    assert held == ["0.01 BTC held by the plan, live exits cover only 0"]


def test_tracebacks_are_found() -> None:
    assert checks.tracebacks("Error: plan x cannot be placed", "run 1") == []
    found = checks.tracebacks("Traceback (most recent call last):\n  ...\nKeyError: 'x'", "run 2")
    assert found == ["run 2: traceback (KeyError: 'x')"]
