"""Reconcile-first over real HTTP: an edited plan is shown as a diff, an exit cancelled by hand
is drift in `status --refresh` and `plan`, and `apply` re-places the protection once."""

from __future__ import annotations

from pathlib import Path

from test_apply_binance_over_sim import binance_copy, run, sim  # noqa: F401  (fixture)

from planrunner.sim.remote import SimControl
from planrunner.state import StateStore


def applied(tmp_path: Path) -> Path:
    plan = binance_copy(tmp_path, "btc-protect-holding.yaml")
    code, out = run("apply", "--yes", str(plan))
    assert code == 0, out
    return plan


def test_edited_plan_is_shown_as_a_diff_and_refused(sim, tmp_path):  # noqa: F811
    plan = applied(tmp_path)
    text = plan.read_text()
    assert "trigger: 6800" in text
    plan.write_text(text.replace("trigger: 6800", "trigger: 6750"))
    code, out = run("plan", str(plan))
    assert code == 0, out
    assert "~ exit-1: belowStopPrice 6800 -> 6750" in out
    state_file = tmp_path / "btc-protect-holding.state.json"
    before = state_file.read_bytes()
    code, out = run("apply", "--yes", str(plan))
    assert code == 1 and "changed since it was applied" in out
    assert state_file.read_bytes() == before


def test_manual_cancel_is_drift_and_apply_repairs_it_once(sim, tmp_path):  # noqa: F811
    control = SimControl(sim.base_url)
    plan = applied(tmp_path)
    stop = next(o for o in control.orders() if o["clientOrderId"].endswith("x1sl"))
    control.cancel("BTCUSDT", stop["clientOrderId"])  # "in the Binance app"

    code, out = run("status", "--refresh", str(plan))
    assert code == 0, out
    assert "Changed outside planrunner" in out and "exit-1" in out
    code, out = run("plan", str(plan))
    assert code == 0 and "Changed outside planrunner" in out

    code, out = run("apply", "--yes", str(plan))
    assert code == 0, out
    live = [o for o in control.orders() if o["status"] in ("NEW", "PARTIALLY_FILLED")]
    assert any(o["type"].startswith("STOP_LOSS") for o in live), live  # protected again
    ids = [o["clientOrderId"] for o in control.orders()]
    assert len(ids) == len(set(ids))
    code, out = run("apply", "--yes", str(plan))
    assert code == 0
    assert [o["clientOrderId"] for o in control.orders()] == ids  # repaired once, not again
    state = StateStore(tmp_path / "btc-protect-holding.state.json").load()
    assert state.drift
