"""`planrunner status` end to end: before and after apply, text and JSON, the listing of every
state file here, a plan that was never applied, and a damaged state file."""

from __future__ import annotations

import json
from decimal import Decimal

FAST = ("--speed", "100000")


def test_status_before_apply_says_never_applied(ws):
    plan = ws.plan()
    result = ws.cli("status", plan)
    ws.assert_clean(result, 1)
    assert "the plan was never applied" in result.stderr
    assert not ws.state_path(plan).exists()


def test_status_without_argument_and_no_state_files(ws):
    ws.plan()
    result = ws.cli("status")
    ws.assert_clean(result, 0)
    assert "No state files under" in result.stdout and "nothing was applied" in result.stdout


def test_status_text_after_a_complete_apply(ws):
    plan = ws.plan()
    ws.assert_clean(ws.cli("apply", plan, "--yes", *FAST), 0)
    state = ws.state(plan)
    result = ws.cli("status", plan)
    ws.assert_clean(result, 0)
    out = result.stdout
    assert out.startswith("Plan btc-quickstart (paper, BTCUSDT): complete;")
    assert f"(serial {state.serial})" in out
    for step in state.steps:
        assert f"{step.id:<14} done" in out
    for order in ws.paper_orders():  # every order on the account is listed with its status
        assert f"{order.client_order_id:<32} {order.type:<16} {order.side:<4} {order.status:<16}" \
            in out
    assert f"Fills: {len(state.fills)}" in out and "Realised P&L: " in out


def test_status_json_matches_the_state_and_the_account(ws):
    plan = ws.plan()
    ws.assert_clean(ws.cli("apply", plan, "--yes", *FAST), 0)
    state = ws.state(plan)
    result = ws.cli("status", plan, "--format", "json")
    ws.assert_clean(result, 0)
    doc = json.loads(result.stdout)
    assert (doc["plan"], doc["complete"], doc["serial"], doc["lineage"]) == (
        "btc-quickstart", True, state.serial, state.lineage)
    assert [(s["id"], s["status"]) for s in doc["steps"]] == [(s.id, "done") for s in state.steps]
    assert Decimal(doc["realised_pnl"]) == state.realised_pnl
    account = {o.client_order_id: str(o.status) for o in ws.paper_orders()}
    assert {o["client_order_id"]: o["status"] for o in doc["orders"]} == account
    assert doc["quote_asset"] == "USDT" and Decimal(doc["position"]) >= 0
    by_state_file = ws.cli("status", ws.state_path(plan), "--format", "json")
    ws.assert_clean(by_state_file, 0)
    assert json.loads(by_state_file.stdout)["serial"] == state.serial


def test_status_mid_run_shows_placed_orders_in_progress(ws):
    plan = ws.resting()
    assert ws.apply_until(plan, "--yes", "--speed", "0", marker="] placed").code == 130
    result = ws.cli("status", plan, "--format", "json")
    ws.assert_clean(result, 0)
    doc = json.loads(result.stdout)
    assert doc["complete"] is False
    assert [s["status"] for s in doc["steps"]] == ["placed"]
    entry = f"btc-resting-{ws.state(plan).namespace}-l1e"
    statuses = {o["client_order_id"]: o["status"] for o in doc["orders"]}
    assert statuses[entry] == "NEW" and len(statuses) == 3  # the OTO: entry, take profit, stop
    assert statuses == {o.client_order_id: str(o.status) for o in ws.paper_orders()}
    text = ws.cli("status", plan)
    assert ": in progress;" in text.stdout


def test_status_without_argument_lists_every_state_file(ws):
    first = ws.plan()
    ws.assert_clean(ws.cli("apply", first, "--yes", *FAST), 0)
    sub = ws.root / "more"
    sub.mkdir()
    second = ws.plan("more/sol.yaml", (ws.root / "quickstart.yaml").read_text()
                     .replace("btc-quickstart", "sol-listing").replace("BTCUSDT", "SOLUSDT")
                     .replace("quantity: 0.01", "quantity: 0.5"))
    ws.assert_clean(ws.cli("apply", second, "--yes", *FAST), 0)
    result = ws.cli("status")
    ws.assert_clean(result, 0)
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert set(rows) == {"btc-quickstart", "sol-listing"}
    for name, plan in (("btc-quickstart", first), ("sol-listing", second)):
        assert "steps 4/4 final" in rows[name] and rows[name].endswith(str(ws.state_path(plan)))


def test_status_refuses_a_corrupt_state_and_leaves_it(ws):
    plan = ws.plan()
    path = ws.state_path(plan)
    path.write_bytes(b"not json at all\n")
    result = ws.cli("status", plan)
    ws.assert_clean(result, 1)
    assert "not a valid state file" in result.stderr and "Nothing was changed" in result.stderr
    listing = ws.cli("status")
    ws.assert_clean(listing, 0)
    assert f"{path}: unreadable" in listing.stdout
    assert path.read_bytes() == b"not json at all\n"
