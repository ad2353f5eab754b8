"""`planrunner apply` end to end on the paper exchange: full runs, refusals, saved plans, edited
plans, the state lock, Ctrl-C and resume, and the JSON event stream (docs/apply-events.md).

Outcomes are read where they live: the state file, and the orders on the paper account."""

from __future__ import annotations

import dataclasses
import io
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from planrunner.plan import load_plan
from planrunner.state import StateStore, new_state

FAST = ("--speed", "100000")
FROZEN = ("--speed", "0")
EXAMPLES = sorted(p.name for p in
                  (Path(__file__).resolve().parents[2] / "plans" / "examples").glob("*.yaml"))
EVENTS = {"step_started", "order_placed", "fill", "step_done", "plan_complete", "note"}


def _ids(orders) -> list[str]:
    return [o.client_order_id for o in orders]


def _quickstart_ids(namespace: str) -> set[str]:
    prefix = f"btc-quickstart-{namespace}-"
    return {prefix + tail for tail in ("e", "x1tp", "x1sl", "x2tp", "x2sl")}


def test_quickstart_completes_then_rerun_has_no_changes(ws):
    plan = ws.plan()
    result = ws.cli("apply", plan, "--yes", *FAST)
    ws.assert_clean(result, 0)
    assert "Apply finished for btc-quickstart: steps 4 done." in result.stdout
    assert "Realised P&L: " in result.stdout
    state = ws.state(plan)
    assert state.serial > 0 and state.realised_pnl is not None
    assert [s.status.value for s in state.steps] == ["done"] * 4
    orders = ws.paper_orders()
    assert sorted(_ids(orders)) == sorted(_quickstart_ids(state.namespace))

    again = ws.cli("apply", plan, "--yes", *FAST)
    ws.assert_clean(again, 0)
    assert "No changes. Plan btc-quickstart is complete." in again.stdout
    assert _ids(ws.paper_orders()) == _ids(orders)
    assert ws.state(plan).serial == state.serial


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_applies_on_paper(ws, name):
    plan = ws.plan(name)
    entry = load_plan(str(plan)).entry.type.value
    if entry in ("market", "none"):
        done = ws.proc("apply", plan, "--yes", *FAST)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert all(s.status.is_final for s in ws.state(plan).steps)
        return
    run = ws.apply_until(plan, "--yes", *FROZEN, marker="] placed")
    assert run.code == 130, run
    assert "Traceback" not in run.stderr and "state is saved" in run.stderr
    assert "orders to place" in run.stdout  # the diff was shown first
    state = ws.state(plan)
    placed = [s for s in state.steps if s.status.value == "placed"]
    assert placed and all(s.client_id for s in placed)
    status = ws.cli("status", plan)
    ws.assert_clean(status, 0)
    assert all(f"{s.id:<14} placed" in status.stdout for s in placed)
    on_account = set(_ids(ws.paper_orders()))
    assert all(set(s.leg_ids()) <= on_account for s in placed)


def test_without_yes_and_without_a_terminal_refuses_and_sends_nothing(ws):
    plan = ws.plan()
    result = ws.cli("apply", plan, *FROZEN)
    ws.assert_clean(result, 1)
    assert "--yes" in result.stderr and "no terminal" in result.stderr
    state = ws.state(plan)
    assert state is None or all(s.status.value == "pending" for s in state.steps)
    assert ws.paper_orders() == ()


def test_json_events_one_object_per_line_in_order(ws):
    plan = ws.plan()
    result = ws.cli("apply", plan, "--yes", "--format", "json", *FAST)
    ws.assert_clean(result, 0)
    events = ws.json_lines(result.stdout)  # fails on any line that is not JSON
    kinds = [e["event"] for e in events]
    assert set(kinds) <= EVENTS
    assert kinds[0] == "step_started" and events[0]["step"] == "entry"
    assert kinds[-1] == "plan_complete" and kinds.count("plan_complete") == 1
    state = ws.state(plan)
    for step in state.steps:  # every step starts before it finishes, each exactly once
        started = [i for i, e in enumerate(events) if e == {"event": "step_started",
                                                            "step": step.id, "kind": step.kind}]
        finished = [i for i, e in enumerate(events)
                    if e["event"] == "step_done" and e["step"] == step.id]
        assert len(started) == 1 and len(finished) == 1 and started[0] < finished[0], step.id
    placed = [e for e in events if e["event"] == "order_placed"]
    assert [e["step"] for e in placed] == ["entry", "exit-1", "exit-2"]
    assert placed[0]["client_order_id"] == f"btc-quickstart-{state.namespace}-e"
    assert {o["client_order_id"] for o in placed[1]["orders"]} == {
        f"btc-quickstart-{state.namespace}-x1tp", f"btc-quickstart-{state.namespace}-x1sl"}
    fills = [e for e in events if e["event"] == "fill"]
    assert [(f["trade_id"], Decimal(f["price"]), Decimal(f["qty"])) for f in fills] == [
        (f.trade_id, f.price, f.qty) for f in state.fills]
    assert all(isinstance(f["price"], str) for f in fills)  # Decimals travel as strings
    first_fill = kinds.index("fill")
    assert kinds.index("order_placed") < first_fill < kinds.index("step_done")
    assert Decimal(events[-1]["realised_pnl"]) == state.realised_pnl
    assert events[-1]["serial"] == state.serial


def test_json_rerun_of_a_complete_plan_stays_json(ws):
    plan = ws.plan()
    ws.assert_clean(ws.cli("apply", plan, "--yes", *FAST), 0)
    again = ws.cli("apply", plan, "--yes", "--format", "json", *FAST)
    ws.assert_clean(again, 0)
    events = ws.json_lines(again.stdout)
    assert [e["event"] for e in events] == ["note", "plan_complete"]
    assert events[0]["text"].startswith("No changes.")


def test_saved_plan_without_state_applies_without_prompt(ws):
    plan = ws.plan()
    ws.assert_clean(ws.cli("plan", plan, "--out", ws.root / "saved.json"), 0)
    result = ws.cli("apply", ws.root / "saved.json", *FAST)
    ws.assert_clean(result, 0)
    assert all(s.status.value == "done" for s in ws.state(plan).steps)


def test_saved_plan_applies_once_then_is_stale(ws):
    plan = ws.resting()
    assert ws.apply_until(plan, "--yes", *FROZEN, marker="] placed").code == 130
    saved = ws.root / "saved.json"
    ws.assert_clean(ws.cli("plan", plan, "--out", saved), 0)
    first = ws.proc("apply", saved, *FAST)  # no --yes, no terminal: a saved plan needs neither
    assert first.returncode == 0, (first.stdout, first.stderr)
    state = ws.state(plan)
    assert all(s.status.is_final for s in state.steps)
    orders = _ids(ws.paper_orders())

    again = ws.cli("apply", saved, *FAST)
    ws.assert_clean(again, 1)
    assert "stale" in again.stderr and "plan PLAN --out FILE" in again.stderr
    assert _ids(ws.paper_orders()) == orders


def test_saved_plan_made_before_the_plan_was_edited_is_refused(ws):
    plan = ws.resting()
    assert ws.apply_until(plan, "--yes", *FROZEN, marker="] placed").code == 130
    saved = ws.root / "saved.json"
    ws.assert_clean(ws.cli("plan", plan, "--out", saved), 0)
    plan.write_text(plan.read_text().replace("price: 7300", "price: 7350"))
    before = ws.state_path(plan).read_bytes()
    orders = _ids(ws.paper_orders())
    result = ws.cli("apply", saved, *FROZEN)
    ws.assert_clean(result, 1)
    assert "changed" in result.stderr
    assert ws.state_path(plan).read_bytes() == before
    assert _ids(ws.paper_orders()) == orders


def test_edited_plan_after_orders_were_sent_is_refused_state_untouched(ws):
    plan = ws.resting()
    assert ws.apply_until(plan, "--yes", *FROZEN, marker="] placed").code == 130
    before = ws.state_path(plan).read_bytes()
    orders = _ids(ws.paper_orders())
    plan.write_text(plan.read_text().replace("quantity: 0.002", "quantity: 0.003"))
    result = ws.cli("apply", plan, "--yes", *FROZEN)
    ws.assert_clean(result, 1)
    assert "changed since it was applied" in result.stderr
    assert "planrunner cancel" in result.stderr  # says what to do
    assert ws.state_path(plan).read_bytes() == before
    assert _ids(ws.paper_orders()) == orders


def test_edited_plan_before_anything_was_sent_starts_fresh(ws):
    plan = ws.plan()
    old = new_state(plan_name="btc-quickstart", plan_fingerprint="fingerprint-of-an-old-version",
                    exchange="paper", symbol="BTCUSDT")
    old = StateStore(ws.state_path(plan)).save(old)  # a state that recorded nothing sent
    result = ws.cli("apply", plan, "--yes", *FAST)
    ws.assert_clean(result, 0)
    state = ws.state(plan)
    assert state.lineage == old.lineage and state.serial > old.serial
    assert state.plan_fingerprint != old.plan_fingerprint
    assert [s.status.value for s in state.steps] == ["done"] * 4
    assert sorted(_ids(ws.paper_orders())) == sorted(_quickstart_ids(state.namespace))


def test_second_apply_while_locked_is_refused_then_force_unlock_frees_it(ws):
    plan = ws.plan()
    with StateStore(ws.state_path(plan)).lock("test"):
        refused = ws.cli("apply", plan, "--yes", *FAST)
        ws.assert_clean(refused, 1)
        assert f"locked by pid {os.getpid()} (test)" in refused.stderr
        assert "force-unlock" in refused.stderr
        assert ws.paper_orders() == () and ws.state(plan) is None

        unlocked = ws.cli("force-unlock", plan)  # the holder "hangs": still inside `with`
        ws.assert_clean(unlocked, 0)
        assert "Removed the lock held by" in unlocked.stdout
        assert str(os.getpid()) in unlocked.stdout
        done = ws.cli("apply", plan, "--yes", *FAST)
        ws.assert_clean(done, 0)
    assert all(s.status.value == "done" for s in ws.state(plan).steps)
    again = ws.cli("force-unlock", plan)
    ws.assert_clean(again, 0)
    assert "No lock was held." in again.stdout


def test_force_unlock_names_the_holder_like_the_lock_error(ws):
    plan = ws.plan()
    with StateStore(ws.state_path(plan)).lock("test"):
        unlocked = ws.cli("force-unlock", plan)
    ws.assert_clean(unlocked, 0)
    assert f"Removed the lock held by pid {os.getpid()} (test) on " in unlocked.stdout


def test_ctrl_c_saves_state_and_rerun_resumes_without_duplicates(ws):
    plan = ws.plan()
    run = ws.apply_until(plan, "--yes", *FROZEN, marker="[exit-2] placed")
    assert run.code == 130, run
    assert "Interrupted. The state is saved" in run.stderr and "Traceback" not in run.stderr
    state = ws.state(plan)
    assert [s.status.value for s in state.steps] == ["done", "done", "placed", "placed"]
    placed_before = _ids(ws.paper_orders())
    assert sorted(placed_before) == sorted(_quickstart_ids(state.namespace))

    resumed = ws.cli("apply", plan, "--yes", *FAST)
    ws.assert_clean(resumed, 0)
    after = ws.paper_orders()
    assert _ids(after) == placed_before  # nothing placed again: each exit exactly once
    assert max(Counter(_ids(after)).values()) == 1
    final = ws.state(plan)
    assert final.lineage == state.lineage and final.serial > state.serial
    assert all(s.status.value == "done" for s in final.steps)


def test_corrupt_state_is_refused_and_left_alone(ws):
    plan = ws.plan()
    path = ws.state_path(plan)
    path.write_bytes(b'{"format_version": 1, "lineage": ')
    result = ws.cli("apply", plan, "--yes", *FAST)
    ws.assert_clean(result, 1)
    assert "not a valid state file" in result.stderr and "Nothing was changed" in result.stderr
    assert path.read_bytes() == b'{"format_version": 1, "lineage": '
    assert ws.paper_orders() == ()


def test_module_form_runs(ws):
    done = ws.proc("--version")
    assert done.returncode == 0 and "planrunner" in done.stdout


def test_state_of_another_plan_is_refused(ws):
    plan = ws.plan()
    ws.assert_clean(ws.cli("apply", plan, "--yes", *FAST), 0)
    other = ws.plan("other.yaml", plan.read_text().replace("btc-quickstart", "btc-other"))
    before = ws.state_path(plan).read_bytes()
    result = ws.cli("apply", other, "--yes", "--state", ws.state_path(plan), *FAST)
    ws.assert_clean(result, 1)
    assert "belongs to plan 'btc-quickstart'" in result.stderr
    assert ws.state_path(plan).read_bytes() == before
    assert dataclasses.asdict(ws.state(plan))["plan_name"] == "btc-quickstart"


class _Console:
    """A person at a terminal who would answer yes; records what apply asked and printed."""

    def __init__(self):
        self.asked: list[str] = []
        self.printed: list[str] = []

    def out(self, text: str) -> None:
        self.printed.append(text)

    def err(self, text: str) -> None:
        self.printed.append(text)

    def confirm(self, prompt: str) -> bool:
        self.asked.append(prompt)
        return True


def test_json_format_at_a_terminal_refuses_instead_of_prompting(ws):
    from planrunner.commands.apply import ApplyOptions, run_apply
    from planrunner.errors import PlanrunnerError
    from planrunner.progress import JsonProgress

    plan = ws.plan()
    console = _Console()
    options = ApplyOptions(target=str(plan), json_events=True, interactive=True,
                           speed=Decimal(0))
    with pytest.raises(PlanrunnerError, match="--format json never prompts.*--yes"):
        run_apply(options, console, lambda: JsonProgress(io.StringIO()))
    assert console.asked == [] and console.printed == []
    assert ws.paper_orders() == ()
    console = _Console()  # the text form at a terminal does ask, once
    text = dataclasses.replace(options, json_events=False, speed=Decimal(100000))
    assert run_apply(text, console, lambda: JsonProgress(io.StringIO())) == 0
    assert len(console.asked) == 1 and "Only 'yes' will be accepted" in console.asked[0]


@pytest.mark.parametrize("command", ["apply", "cancel", "force-unlock"])
def test_state_in_a_missing_folder_is_a_clear_error(ws, command):
    plan = ws.plan()
    extra = ("--yes", *FROZEN) if command == "apply" else ()
    result = ws.cli(command, plan, "--state", ws.root / "nowhere" / "x.state.json", *extra)
    ws.assert_clean(result, 1)
    assert "nowhere" in result.stderr and "does not exist" in result.stderr
    assert not (ws.root / "nowhere").exists() and ws.paper_orders() == ()


def test_protecting_held_coins_realises_pnl_against_the_cost_basis(ws):
    """entry: none enters nothing through planrunner: the exits' P&L is measured against the
    plan's cost_basis (7000), recorded in the state at the first apply."""
    from planrunner.exchanges.factory import open_paper_exchange

    plan = ws.plan("btc-protect-holding.yaml")
    result = ws.cli("apply", plan, "--yes", *FAST)
    ws.assert_clean(result, 0)
    state = ws.state(plan)
    assert [s.status.value for s in state.steps] == ["done"] * len(state.steps)
    assert state.cost_basis == Decimal(7000)
    paper = open_paper_exchange(ws.paper_dir / "account.json", speed=0)
    sells = paper.trades("BTCUSDT")
    assert sells and {o.side for o in paper.all_orders() if o.executed_qty > 0} == {"SELL"}
    qty = sum((f.qty for f in sells), Decimal(0))
    proceeds = sum((f.qty * f.price for f in sells), Decimal(0))
    fees = sum((f.commission * (f.price if f.commission_asset == "BTC" else 1) for f in sells),
               Decimal(0))
    assert qty == Decimal("0.01")
    assert state.realised_pnl == proceeds - Decimal(7000) * qty - fees
    assert "Realised P&L: " in result.stdout
