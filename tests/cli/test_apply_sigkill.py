"""`planrunner apply` as a real process, killed with SIGKILL at random points and resumed.

For each example plan (copied into a temp folder, with its own paper account) apply is started,
killed with SIGKILL, checked and started again, many times; then it runs to the end. Kills land
during start-up, right after a chosen progress event (inside or just after an order placement,
where the paper account may already hold an order the state file only knows as `sending`) and
while the plan waits for fills. After every kill: the state file (and its backup) parse, the paper
account loads, no client order id exists twice on the account, every step the state calls placed
has all its legs on the account, no order exists whose intent the state never recorded, and no
fill is recorded twice or without a trade behind it. At the end every step is done, the account
holds exactly the state's legs with the same status and executed quantity, the state's fills are
exactly the account's trades, and a re-run says there is nothing to do.

The kill points come from a seeded random generator; a failure message names the seed and the
kill. PLANRUNNER_SIGKILL_SEED=<int> replays (or explores) another seed. Timed kills count from
the measured start-up time of apply on this machine, so they land in the same phases on a slow or
loaded machine as on a fast one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from planrunner.actions import ActionKind
from planrunner.exchanges.base import ExchangeRequest, OrderSnapshot
from planrunner.exchanges.factory import open_paper_exchange
from planrunner.state import (LegIds, State, StateStore, Step, StepStatus, new_state,
                              parse_state)

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "planrunner.cli"]
PLANS = ("quickstart.yaml", "btc-limit-dip.yaml", "btc-protect-holding.yaml")
KILLS = 20
SPEED = "72000"  # market seconds per wall second: the plans end after 1-3 s of running
BASE_SEED = int(os.environ.get("PLANRUNNER_SIGKILL_SEED", "20261124"))
PLACING = (ActionKind.PLACE_ORDER.value, ActionKind.PLACE_ORDER_LIST.value)
ON_EXCHANGE = (StepStatus.PLACED, StepStatus.WAITING, StepStatus.DONE)
SAFETY_TIMEOUT_S = 60  # only against a hung child; never a measurement


@dataclass(frozen=True, slots=True)
class KillPoint:
    """One kill's random draws; `aim` picks those that fit the run (placements left or not)."""

    choice: float  # below PLACEMENT_SHARE: kill at a placement, else at a time
    nth: int  # which placement start of the run
    delay_s: float  # after that placement start: 0-8 ms
    early_s: float  # from start-up: -120..+30 ms, loading, reconciling, first placement
    late_s: float  # from start-up: 0-1 s, waiting for fills


PLACEMENT_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class Aim:
    """A kill point made concrete for one run: wait for `events` placement starts (giving up
    at `deadline_s` after the launch), then `after_s` more; with no events, `after_s` counts
    from the launch."""

    events: int
    after_s: float
    deadline_s: float

    def describe(self) -> str:
        if self.events:
            return (f"{self.after_s * 1000:.1f} ms after placement start {self.events} (at the "
                    f"latest {self.deadline_s * 1000:.0f} ms after launch)")
        return f"{self.after_s * 1000:.0f} ms after launch"


def kill_points(rng: random.Random, count: int) -> list[KillPoint]:
    """Kills at a placement land 0-8 ms after its start: the engine saves the step as `sending`,
    the paper account saves the order, then the state records it as placed, all within about
    6 ms here, so these hit each stretch of that sequence."""
    return [KillPoint(rng.random(), rng.choices((1, 2, 3), weights=(6, 3, 1))[0],
                      rng.uniform(0.0, 0.008), rng.uniform(-0.12, 0.03), rng.uniform(0.0, 1.0))
            for _ in range(count)]


def aim(point: KillPoint, placements_left: int, startup_s: float) -> Aim:
    """While placements are left, most kills wait for one and the rest land around start-up;
    once all are placed, kills land while the plan waits for its fills."""
    if not placements_left:
        return Aim(0, startup_s + point.late_s, 0.0)
    if point.choice < PLACEMENT_SHARE:
        return Aim(min(point.nth, placements_left), point.delay_s, startup_s + 1.0)
    return Aim(0, max(0.0, startup_s + point.early_s), 0.0)


def placements_left(state: State | None) -> int:
    """Placement starts the next run will report, at most (a `sending` step may be adopted)."""
    if state is None:
        return 3  # not known before the first run saves the steps; the deadline covers fewer
    return sum(s.kind in PLACING and s.status in (StepStatus.PENDING, StepStatus.SENDING)
               for s in state.steps)


@dataclass(slots=True)
class Workspace:
    folder: Path
    plan: Path
    paper_dir: Path
    pycache: Path

    @property
    def state_path(self) -> Path:
        return self.folder / self.plan.name.replace(".yaml", ".state.json")

    def env(self) -> dict[str, str]:
        # bytecode cached (as an installed package has it): compiling every module on every
        # launch would double the test's time without testing anything more
        env = dict(os.environ, PLANRUNNER_PAPER_DIR=str(self.paper_dir), PYTHONUNBUFFERED="1",
                   PYTHONPYCACHEPREFIX=str(self.pycache))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def command(self, speed: str = SPEED) -> list[str]:
        return [*CLI, "apply", "--yes", "--speed", speed, "--format", "json", str(self.plan)]


def make_workspace(tmp_path: Path, plan_name: str, label: str, pycache: Path) -> Workspace:
    folder = tmp_path / f"{plan_name.removesuffix('.yaml')}-{label}"
    folder.mkdir()
    plan = folder / plan_name
    shutil.copyfile(ROOT / "plans" / "examples" / plan_name, plan)
    return Workspace(folder, plan, folder / "paper", pycache)


@pytest.fixture(scope="module")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pycache")


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@dataclass(frozen=True, slots=True)
class RunResult:
    returncode: int
    stdout: list[str]
    stderr: str
    first_line_s: float | None  # seconds from launch to the first output line, if one came


def run_apply(ws: Workspace, target: Aim | None, log: Path, speed: str = SPEED) -> RunResult:
    """One apply process; SIGKILL at `target` (None: let it finish)."""
    seen: list[tuple[float, str]] = []
    started = time.monotonic()
    with log.open("w") as err, subprocess.Popen(
            ws.command(speed), cwd=ws.folder, env=ws.env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=err, text=True) as proc:
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
        reader.start()
        try:
            if target is not None:
                seen = _kill_at(proc, target, lines, started)
            proc.wait(timeout=SAFETY_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(timeout=10)
    first = seen[0][0] - started if seen else None
    return RunResult(proc.returncode, [line for _, line in seen] + _drain(lines),
                     log.read_text(), first)


def _kill_at(proc: subprocess.Popen, target: Aim, lines: queue.Queue,
             started: float) -> list[tuple[float, str]]:
    """Wait for the kill point, SIGKILL; the output lines read meanwhile, with arrival times."""
    seen: list[tuple[float, str]] = []
    placements = 0
    while placements < target.events:
        try:
            line = lines.get(timeout=max(0.0, started + target.deadline_s - time.monotonic()))
        except queue.Empty:
            break
        if line is None:  # it finished before that event: nothing left to kill
            lines.put(None)
            return seen
        seen.append((time.monotonic(), line))
        placements += _is_placement_start(line)
    pause = target.after_s if target.events else started + target.after_s - time.monotonic()
    if pause > 0:
        threading.Event().wait(pause)
    proc.send_signal(signal.SIGKILL)  # a no-op once the process has been reaped
    return seen


def _is_placement_start(line: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return event.get("event") == "step_started" and event.get("kind") in PLACING


def _drain(lines: queue.Queue) -> list[str]:
    out = []
    while not lines.empty() and (line := lines.get_nowait()) is not None:
        out.append(line)
    return out


def load_state(ws: Workspace, where: str) -> State | None:
    """The state file must always parse; so must its backup."""
    try:
        state = StateStore(ws.state_path).load()
        backup = ws.state_path.with_name(ws.state_path.name + ".backup")
        if backup.exists():
            parse_state(backup.read_bytes(), backup)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
        pytest.fail(f"{where}: the state file does not load: {exc!r}")
    return state


@dataclass(frozen=True, slots=True)
class Account:
    """What the paper account holds: orders per client id, each order's last snapshot, trades."""

    counts: Counter[str]
    orders: dict[str, OrderSnapshot]
    trades: dict[int, tuple[Decimal, Decimal]]  # trade id -> (qty, price)


def read_account(ws: Workspace, where: str) -> Account:
    account = ws.paper_dir / "account.json"
    if not account.exists():
        return Account(Counter(), {}, {})
    try:
        exchange = open_paper_exchange(account)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
        pytest.fail(f"{where}: the paper account does not load: {exc!r}")
    snapshots = exchange.all_orders()
    trades = {f.trade_id: (f.qty, f.price) for f in exchange.trades("BTCUSDT")}
    return Account(Counter(o.client_order_id for o in snapshots),
                   {o.client_order_id: o for o in snapshots}, trades)


def legs(state: State, statuses: tuple[StepStatus, ...] | None = None) -> set[str]:
    return {cid for s in state.steps if s.kind in PLACING
            and (statuses is None or s.status in statuses) for cid in s.leg_ids()}


def check_invariants(ws: Workspace, where: str) -> tuple[State | None, Account]:
    state = load_state(ws, where)
    account = read_account(ws, where)
    orders = account.counts
    twice = sorted(cid for cid, n in orders.items() if n > 1)
    assert twice == [], f"{where}: client order ids placed more than once: {twice}"
    if state is None:
        assert not orders, f"{where}: orders {sorted(orders)} exist but no state file does"
        return state, account
    missing = sorted(legs(state, ON_EXCHANGE) - set(orders))
    assert missing == [], f"{where}: the state says placed, the account lacks {missing}"
    unrecorded = sorted(set(orders) - legs(state))
    assert unrecorded == [], f"{where}: orders sent without a persisted intent: {unrecorded}"
    recorded = Counter(f.trade_id for f in state.fills)
    assert [t for t, n in recorded.items() if n > 1] == [], f"{where}: a fill recorded twice"
    assert set(recorded) <= set(account.trades), f"{where}: the state has fills the account lacks"
    return state, account


def check_finished(ws: Workspace, where: str) -> None:
    """Every step done; the state's orders and fills are exactly the account's."""
    state, account = check_invariants(ws, where)
    assert state is not None, f"{where}: no state file after a full run"
    not_done = {s.id: s.status.value for s in state.steps if s.status is not StepStatus.DONE}
    assert not_done == {}, f"{where}: steps not done: {not_done}"
    assert set(account.orders) == legs(state), (
        f"{where}: account {sorted(account.orders)} != state legs {sorted(legs(state))}")
    for cid, snap in account.orders.items():
        record = state.order(cid)
        assert record is not None, f"{where}: the state has no order record for {cid}"
        assert (record.status, record.executed_qty) == (str(snap.status), snap.executed_qty), (
            f"{where}: {cid} is {snap.status} {snap.executed_qty} on the account but "
            f"{record.status} {record.executed_qty} in the state")
    fills = {f.trade_id: (f.qty, f.price) for f in state.fills}
    assert fills == account.trades, f"{where}: fills {fills} != account trades {account.trades}"


def _check_exit(result: RunResult, where: str) -> None:
    assert "Traceback" not in result.stderr, f"{where}: {result.stderr}"
    assert result.returncode in (0, -signal.SIGKILL), (
        f"{where}: apply exited {result.returncode}:\n{result.stderr}")


def measure_startup(tmp_path: Path, plan_name: str, pycache: Path) -> float:
    """Seconds from launch to the first placement of a fresh copy of the plan (killed there)."""
    ws = make_workspace(tmp_path, plan_name, "startup", pycache)
    run_apply(ws, Aim(1, 0.0, SAFETY_TIMEOUT_S), tmp_path / "startup-warm.err")  # fills pycache
    ws = make_workspace(tmp_path, plan_name, "startup-2", pycache)
    result = run_apply(ws, Aim(1, 0.0, SAFETY_TIMEOUT_S), tmp_path / "startup.err")
    assert result.first_line_s is not None, f"{plan_name}: apply printed nothing: {result}"
    check_invariants(ws, f"{plan_name}, killed at its first placement")
    return result.first_line_s


@pytest.mark.slow
@pytest.mark.parametrize("plan_name", PLANS)
def test_apply_survives_sigkill_at_random_points(tmp_path: Path, plan_name: str,
                                                 pycache: Path) -> None:
    """A run that ends before its kill closes a round: its end is checked and the next kill
    starts a fresh copy of the plan, so every kill interrupts real work."""
    seed = BASE_SEED + PLANS.index(plan_name)
    startup = measure_startup(tmp_path, plan_name, pycache)
    rounds, in_flight, adopted = 1, 0, 0
    ws = make_workspace(tmp_path, plan_name, "1", pycache)
    state: State | None = None
    for n, kill in enumerate(kill_points(random.Random(seed), KILLS), start=1):
        target = aim(kill, placements_left(state), startup)
        where = f"{plan_name}, seed {seed}, round {rounds}, kill {n} ({target.describe()})"
        result = run_apply(ws, target, tmp_path / f"{ws.folder.name}-{n}.err")
        _check_exit(result, where)
        adopted += sum("adopted" in line for line in result.stdout)
        state, _ = check_invariants(ws, where)
        in_flight += state is not None and any(s.status is StepStatus.SENDING for s in state.steps)
        if result.returncode == 0:
            check_finished(ws, where)
            rounds += 1
            ws, state = make_workspace(tmp_path, plan_name, str(rounds), pycache), None
    where = f"{plan_name}, seed {seed}, round {rounds}, final run"
    result = run_apply(ws, None, tmp_path / f"{ws.folder.name}-final.err")
    assert result.returncode == 0, f"{where}: apply exited {result.returncode}:\n{result.stderr}"
    check_finished(ws, where)
    again = run_apply(ws, None, tmp_path / f"{ws.folder.name}-again.err")
    assert again.returncode == 0 and any("No changes" in line for line in again.stdout), (
        f"{where}: re-running the finished plan: {again.stdout} {again.stderr}")
    # where the kills fell, to judge a seed (informational: it depends on the machine)
    print(f"{plan_name}: seed {seed}, start-up {startup * 1000:.0f} ms, {KILLS} kills over "
          f"{rounds} rounds; {in_flight} left a step `sending`; {adopted} orders found on the "
          f"exchange and adopted on resume")


def test_resume_after_the_exchange_filled_a_take_profit(tmp_path: Path, pycache: Path) -> None:
    """Stopped right after the OCO was placed; the market then fills its take-profit (the
    exchange protects the holding while planrunner is down). apply must resume and finish."""
    ws = make_workspace(tmp_path, "btc-protect-holding.yaml", "filled", pycache)
    killed = run_apply(ws, Aim(1, 0.3, SAFETY_TIMEOUT_S), tmp_path / "placed.err", speed="0")
    _check_exit(killed, "stopped after placing")
    state, account = check_invariants(ws, "stopped after placing")
    assert state is not None and len(account.orders) == 2, "the OCO was not placed"
    exchange = open_paper_exchange(ws.paper_dir / "account.json")
    while exchange.last_price("BTCUSDT") <= Decimal(7360):  # the take-profit is at 7350
        exchange.advance(exchange.market_time_ms + 600_000)  # ten market minutes a hop
    result = run_apply(ws, None, tmp_path / "resume.err")
    assert result.returncode == 0, result.stderr
    check_finished(ws, "resumed after the fill")


def test_kill_points_are_reproducible_and_spread() -> None:
    points = kill_points(random.Random(7), 200)
    assert points == kill_points(random.Random(7), 200)
    assert {p.nth for p in points} == {1, 2, 3}
    assert any(p.choice < PLACEMENT_SHARE for p in points)
    assert any(p.choice >= PLACEMENT_SHARE for p in points)
    assert all(0 <= p.delay_s <= 0.008 and -0.12 <= p.early_s <= 0.03 and 0 <= p.late_s <= 1
               for p in points)


def test_kill_points_aim_at_work_that_is_left() -> None:
    point = KillPoint(choice=0.1, nth=3, delay_s=0.004, early_s=-0.1, late_s=0.5)
    assert aim(point, 1, 0.2) == Aim(1, 0.004, 1.2)
    assert aim(point, 0, 0.2) == Aim(0, 0.7, 0.0)
    timed = dataclasses.replace(point, choice=0.9)
    assert aim(timed, 2, 0.2) == Aim(0, pytest.approx(0.1), 0.0)
    assert aim(timed, 2, 0.05) == Aim(0, 0.0, 0.0)


def test_invariants_catch_a_duplicate_and_a_missing_leg(tmp_path: Path) -> None:
    """The checks above can fail: a placed step absent, an order without an intent, the same
    client id placed twice."""
    ws = make_workspace(tmp_path, "quickstart.yaml", "fake", tmp_path / "pycache")
    store = StateStore(ws.state_path)
    state = new_state(plan_name="btc-quickstart", plan_fingerprint="f", exchange="paper",
                      symbol="BTCUSDT")
    step = Step(id="entry", kind="place_order", status=StepStatus.PLACED, client_id="cid-1",
                legs=(LegIds("entry", "cid-1"),))
    store.save(state.with_step(step))
    with pytest.raises(AssertionError, match="lacks"):
        check_invariants(ws, "missing")
    exchange = open_paper_exchange(ws.paper_dir / "account.json")
    request = ExchangeRequest("POST", "/api/v3/order", (
        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
        ("quantity", "0.001"), ("price", "7000"), ("newClientOrderId", "cid-1")))
    exchange.submit(request)
    check_invariants(ws, "placed once")
    stray = tuple((k, "stray-1" if k == "newClientOrderId" else v) for k, v in request.params)
    exchange.submit(ExchangeRequest("POST", "/api/v3/order", stray))
    with pytest.raises(AssertionError, match="without a persisted intent"):
        check_invariants(ws, "stray")
    exchange.cancel_order("BTCUSDT", "stray-1")
    exchange.cancel_order("BTCUSDT", "cid-1")
    exchange.submit(request)  # Binance accepts a client id again once its order is final
    with pytest.raises(AssertionError, match="more than once"):
        check_invariants(ws, "duplicate")
