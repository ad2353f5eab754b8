"""`planrunner cancel [--close]` end to end: open orders cancelled on the paper account, steps
skipped with the reason, the position closed at market exactly once, and clear errors."""

from __future__ import annotations

from collections import Counter

from planrunner.position import position

FROZEN = ("--speed", "0")
FAST = ("--speed", "100000")
CANCELLED = "cancelled by `planrunner cancel`"


def _by_id(ws) -> dict:
    return {o.client_order_id: o for o in ws.paper_orders()}


def test_cancel_on_a_never_applied_plan_is_a_clear_error(ws):
    plan = ws.plan()
    result = ws.cli("cancel", plan)
    ws.assert_clean(result, 1)
    assert "the plan was never applied" in result.stderr
    assert not ws.state_path(plan).exists() and ws.paper_orders() == ()


def test_cancel_cancels_open_orders_and_skips_the_steps(ws):
    plan = ws.resting()
    assert ws.apply_until(plan, "--yes", *FROZEN, marker="] placed").code == 130
    before = ws.state(plan)
    legs = set(before.steps[0].leg_ids())
    assert {str(_by_id(ws)[cid].status) for cid in legs} <= {"NEW", "PENDING_NEW"}

    result = ws.cli("cancel", plan)
    ws.assert_clean(result, 0)
    assert "Cancelled the open orders of steps: slice-1." in result.stdout
    account = _by_id(ws)
    assert set(account) == legs  # nothing new was placed
    assert {str(account[cid].status) for cid in legs} == {"CANCELED"}
    state = ws.state(plan)
    assert [(s.status.value, s.last_error) for s in state.steps] == [("skipped", CANCELLED)]
    assert state.serial > before.serial

    again = ws.cli("cancel", plan)
    ws.assert_clean(again, 0)
    assert "No open orders to cancel." in again.stdout
    rerun = ws.cli("apply", plan, "--yes", *FROZEN)  # a cancelled plan is finished, not resumed
    ws.assert_clean(rerun, 0)
    assert "No changes." in rerun.stdout and set(_by_id(ws)) == legs


def test_cancel_close_exits_the_position_once(ws):
    plan = ws.plan()
    assert ws.apply_until(plan, "--yes", *FROZEN, marker="[exit-2] placed").code == 130
    namespace = ws.state(plan).namespace
    close_id = f"btc-quickstart-{namespace}-close"

    result = ws.cli("cancel", plan, "--close")
    ws.assert_clean(result, 0)
    assert "Cancelled the open orders of steps: exit-1, exit-2." in result.stdout
    assert "Close: done. Realised P&L: " in result.stdout
    account = _by_id(ws)
    exits = [cid for cid in account if "-x" in cid]
    assert len(exits) == 4 and {str(account[cid].status) for cid in exits} == {"CANCELED"}
    close = account[close_id]
    assert (close.type, close.side, str(close.status)) == ("MARKET", "SELL", "FILLED")
    state = ws.state(plan)
    assert state.realised_pnl is not None
    assert state.step("close").status.value == "done"
    assert [s.last_error for s in state.steps if s.id.startswith("exit-")] == [CANCELLED] * 2
    from planrunner.exchanges.factory import paper_market_context
    assert position(state, "BUY", paper_market_context("BTCUSDT")).open_qty == 0

    again = ws.cli("cancel", plan, "--close")
    ws.assert_clean(again, 0)
    assert "Nothing to close" in again.stdout
    assert Counter(o.client_order_id for o in ws.paper_orders())[close_id] == 1
    assert len(ws.paper_orders()) == 6  # entry, four exits, one close
    assert ws.state(plan).realised_pnl == state.realised_pnl


def test_cancel_close_without_a_position_places_nothing(ws):
    plan = ws.resting()
    assert ws.apply_until(plan, "--yes", *FROZEN, marker="] placed").code == 130
    orders = set(_by_id(ws))
    result = ws.cli("cancel", plan, "--close")
    ws.assert_clean(result, 0)
    assert "Nothing to close: the plan holds no position." in result.stdout
    assert set(_by_id(ws)) == orders


def test_cancel_refuses_a_corrupt_state_and_leaves_it(ws):
    plan = ws.plan()
    path = ws.state_path(plan)
    path.write_bytes(b"{}")
    result = ws.cli("cancel", plan, "--close")
    ws.assert_clean(result, 1)
    assert "Nothing was changed" in result.stderr
    assert path.read_bytes() == b"{}" and ws.paper_orders() == ()


def test_cancel_in_a_real_process(ws):
    plan = ws.resting()
    assert ws.apply_until(plan, "--yes", *FROZEN, marker="] placed").code == 130
    done = ws.proc("cancel", plan)
    assert done.returncode == 0, done.stderr
    assert "Cancelled the open orders of steps: slice-1." in done.stdout
    assert {str(o.status) for o in ws.paper_orders()} == {"CANCELED"}


def test_cancel_close_on_an_edited_plan_is_refused_before_anything(ws):
    plan = ws.plan()
    assert ws.apply_until(plan, "--yes", *FROZEN, marker="[exit-2] placed").code == 130
    before = ws.state_path(plan).read_bytes()
    statuses = {cid: str(o.status) for cid, o in _by_id(ws).items()}
    flipped = plan.read_text().replace("side: buy", "side: sell")
    for was, now in (('"+0.5%"', '"-0.5%"'), ('"+0.8%"', '"-0.8%"'), ('"-1%"', '"+1%"'),
                     ('"-0.2%"', '"+0.2%"')):
        flipped = flipped.replace(was, now)
    plan.write_text(flipped)  # still valid, but a sell plan now
    result = ws.cli("cancel", plan, "--close")
    ws.assert_clean(result, 1)
    assert "changed since it was applied" in result.stderr and "without --close" in result.stderr
    assert ws.state_path(plan).read_bytes() == before
    assert {cid: str(o.status) for cid, o in _by_id(ws).items()} == statuses
    plain = ws.cli("cancel", plan)  # the orders can still be cancelled with the edited file
    ws.assert_clean(plain, 0)
    assert "Cancelled the open orders of steps: exit-1, exit-2." in plain.stdout
