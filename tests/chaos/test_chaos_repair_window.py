"""A SIGKILL in the window between apply recording that a person cancelled the exits (the step
saved `done` with a drift record) and apply saving the repair's intent. Found by bench/chaos
(manual cancel of a protective order, btc-partial-fill, seed 20261124649); made deterministic
here by delaying the simulator's next account read, which the repair decision waits on.

The resume must still protect the position: re-place the exits, not report "No changes. Plan
... is complete" with the coins held and no order on the exchange.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import chaos_checks as checks
from chaos_lib import CLI, Episode
from chaos_markets import script


def _kill_after_the_drift_is_saved(ep: Episode) -> None:
    """Run apply; when it reports the drift, slow the account read the repair waits for; kill
    it once the step is reported done (saved) and before the repair's intent is."""
    with subprocess.Popen([*CLI, "apply", "--yes", "--format", "json", str(ep.plan)],
                          cwd=ep.folder, env=ep.env(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if '"event": "drift"' in line:
                ep.control.add_fault("delay", path="/api/v3/account", ms=1500, count=2)
            if '"step_done"' in line:
                break
        threading.Event().wait(0.3)  # the account read is held 1.5 s: the step is saved by now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("plan", ["btc-partial-fill.yaml", "btc-protect-holding.yaml"])
def test_resume_repairs_exits_cancelled_by_hand(tmp_path: Path, plan: str) -> None:
    ep = Episode(script(plan), tmp_path / "ep", tmp_path / "pycache", f"repair window {plan}")
    try:
        ep.run_until_normal(drive=False)
        if ep.entry_resting():
            ep.move(ep.script.entry)
            ep.run_until_normal(drive=False)
        leg = next(o for o in ep.orders()
                   if o["side"] != ep.script.side and o["status"] == "NEW")
        ep.control.cancel(ep.script.symbol, leg["clientOrderId"])  # the whole OCO goes
        _kill_after_the_drift_is_saved(ep)
        ep.control.clear_faults()
        assert ep.run_until_normal(drive=False)
        orders = ep.orders()
        assert checks.unprotected(orders, ep.script.side, ep.rules.base_asset, ep.script.held,
                                  ep.tolerance()) == []
    finally:
        ep.close()
