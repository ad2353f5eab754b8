"""The chaos harness: one episode = one simulator (in-process, wall clock) and one copy of an
example plan with `exchange: binance`, driven through real `planrunner apply` processes that are
SIGKILLed at seeded random moments, with market moves, faults and manual cancels in between, then
resumed until apply returns normally and the plan completes. Every run is checked with
chaos_checks; findings are kept per counter, deduplicated.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import chaos_checks as checks
from chaos_markets import Script

from planrunner.exchanges.rules import builtin_rules
from planrunner.sim.remote import SimControl
from planrunner.sim.server import SimOptions, start_simulator
from planrunner.state import State, StateStore, StepStatus

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "plans" / "examples"
CLI = [sys.executable, "-m", "planrunner.cli"]
KEY, SECRET = "chaos-test-key-not-real", "chaos-test-secret-not-real"
SAFETY_S = 30.0  # only against a hung child; never a measurement
COUNTERS = ("duplicates", "lost steps", "unprotected after resume", "tracebacks")


@dataclass(frozen=True, slots=True)
class Kill:
    """SIGKILL `after_s` after the `placements`-th placement start, or after the first
    `event` line (neither: after launch); when that never comes, at `deadline_s` after launch."""

    placements: int
    after_s: float
    deadline_s: float = 2.0
    event: str | None = None

    def waits(self, line: str) -> bool:
        if self.event is not None:
            return f'"event": "{self.event}"' in line
        return '"step_started"' in line and '"place_order' in line

    @property
    def events(self) -> int:
        return 1 if self.event is not None else self.placements


EVENTS = ("order_placed", "fill", "step_done", "drift")  # each follows a state save


def random_kill(rng: random.Random) -> Kill:
    """Half the kills land 0-30 ms after a placement starts (intent saved, request in flight,
    answer not yet recorded); a fifth 0-15 ms after a progress event (the window between one
    save and the next); the rest at any time in the first 0.6 s (start-up, lookups,
    reconcile, polling). `aim` fits a placement kill to the placements the run has left."""
    draw = rng.random()
    if draw < 0.5:
        return Kill(rng.choices((1, 2, 3), weights=(6, 3, 1))[0], rng.uniform(0.0, 0.03))
    if draw < 0.7:
        return Kill(0, rng.uniform(0.0, 0.015), event=rng.choice(EVENTS))
    return Kill(0, rng.uniform(0.05, 0.6))


def aim(kill: Kill, state: State | None) -> Kill:
    """A placement kill waits for a placement the run will make: at most the placing steps
    still pending or `sending` (unknown before the first run: then 1); with none left it
    becomes a kill 80-320 ms after launch."""
    if not kill.placements or kill.event is not None:
        return kill
    left = 1 if state is None else sum(
        s.kind in checks.PLACING and s.status in (StepStatus.PENDING, StepStatus.SENDING)
        for s in state.steps)
    if not left:  # a resume with nothing to place is short: land in start-up or reconcile
        return Kill(0, 0.08 + kill.after_s * 8)
    return Kill(min(kill.placements, left), kill.after_s)


@dataclass(slots=True)
class Tally:
    """One scenario's (or episode's) counts; findings keyed by counter, deduplicated."""

    trials: int = 0
    episodes: int = 0
    found: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in COUNTERS})
    other: set[str] = field(default_factory=set)  # incomplete plans, error exits, orphans

    def count(self, counter: str) -> int:
        return len(self.found[counter])

    def merge(self, other: Tally) -> None:
        self.trials += other.trials
        self.episodes += other.episodes
        for counter in COUNTERS:
            self.found[counter] |= other.found[counter]
        self.other |= other.other

    @property
    def clean(self) -> bool:
        return not any(self.found.values()) and not self.other

    def line(self) -> str:
        return "  ".join([f"trials {self.trials}"] +
                         [f"{c} {self.count(c)}" for c in COUNTERS])


@dataclass(frozen=True, slots=True)
class RunResult:
    returncode: int
    stderr: str
    killed: bool


class Episode:
    """One plan on one fresh simulator; `label` names it in every finding."""

    def __init__(self, script: Script, folder: Path, pycache: Path, label: str):
        self.script, self.label, self.pycache = script, label, pycache
        folder.mkdir(parents=True, exist_ok=True)
        self.plan = folder / script.plan
        text = (EXAMPLES / script.plan).read_text().replace("exchange: paper", "exchange: binance")
        self.plan.write_text(text)
        self.state_path = folder / script.plan.replace(".yaml", ".state.json")
        self.paper_dir, self.folder = folder / "paper", folder
        self.rules = builtin_rules()[script.symbol]
        self.sim = start_simulator(SimOptions(api_key=KEY, api_secret=SECRET))
        self.control = SimControl(self.sim.base_url)
        self.control.set_price(script.symbol, script.opening)
        self.tally = Tally(episodes=1)
        self.runs = 0
        self.closing: str | None = None  # the exit route the driver may use while apply runs

    def close(self) -> None:
        self.sim.stop()

    # -- processes ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PLANRUNNER_BINANCE_URL=self.sim.base_url, BINANCE_API_KEY=KEY,
                   BINANCE_API_SECRET=SECRET, PLANRUNNER_POLL_INTERVAL="0.05",
                   PLANRUNNER_PAPER_DIR=str(self.paper_dir), PYTHONUNBUFFERED="1",
                   PYTHONPYCACHEPREFIX=str(self.pycache))
        for name in ("PYTHONDONTWRITEBYTECODE", "BINANCE_PRIVATE_KEY_FILE"):
            env.pop(name, None)  # bytecode cached, as an installed package has it
        return env

    def run(self, kill: Kill | None = None, *, drive: bool = False,
            during: tuple[float, Callable[[], None]] | None = None) -> RunResult:
        """One `apply --yes --format json`; SIGKILL at `kill`. `drive` fills a resting entry
        while it runs; `during` = (seconds after launch, action) disrupts it once."""
        self.runs += 1
        log = self.folder / f"run-{self.runs}.err"
        with log.open("w") as err, subprocess.Popen(
                [*CLI, "apply", "--yes", "--format", "json", str(self.plan)], cwd=self.folder,
                env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                text=True) as proc:
            helpers = self._helpers(proc, drive, during)
            try:
                self._kill_at(proc, kill and aim(kill, self._state_quietly()))
                proc.wait(timeout=SAFETY_S)
            except subprocess.TimeoutExpired:
                self.note("other", f"run {self.runs}: apply still running after {SAFETY_S:.0f} s")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                for helper in helpers:
                    helper.join(timeout=10)
        result = RunResult(proc.returncode, log.read_text(), proc.returncode == -signal.SIGKILL)
        self.check(result)
        return result

    def _helpers(self, proc: subprocess.Popen, drive: bool,
                 during: tuple[float, Callable[[], None]] | None) -> list[threading.Thread]:
        self._lines: queue.Queue = queue.Queue()
        out = self.folder / f"run-{self.runs}.out"
        threads = [threading.Thread(target=_pump, args=(proc.stdout, self._lines, out),
                                    daemon=True)]
        if drive:
            threads.append(threading.Thread(target=self._drive, args=(proc,), daemon=True))
        if during is not None:
            threads.append(threading.Thread(target=_later, args=(proc, *during), daemon=True))
        for thread in threads:
            thread.start()
        return threads

    def _kill_at(self, proc: subprocess.Popen, kill: Kill | None) -> None:
        if kill is None:
            return
        started, seen = time.monotonic(), 0
        while seen < kill.events:
            left = started + kill.deadline_s - time.monotonic()
            try:
                line = self._lines.get(timeout=max(0.0, left))
            except queue.Empty:
                break
            if line is None:
                return  # it ended before that point: nothing left to kill
            seen += kill.waits(line)
        pause = kill.after_s if kill.events else started + kill.after_s - time.monotonic()
        if pause > 0:
            threading.Event().wait(pause)
        proc.send_signal(signal.SIGKILL)  # a no-op once the process has been reaped

    def _drive(self, proc: subprocess.Popen) -> None:
        """Fill a resting entry while apply runs (plans apply must stay alive for); with a
        `closing` route set, also close a protected position, again and again while exits
        are left (plans that wait on a client-side expiry only return once complete)."""
        closing = False
        while proc.poll() is None:
            orders = self.orders()
            if self.entry_resting(orders):
                self.move(self.script.entry)
            elif self.closing and (self.protected(orders) or closing and self.exits_left(orders)):
                self.move(self.script.route(self.closing))
                closing = True
            threading.Event().wait(0.1)

    # -- the market --------------------------------------------------------------------------

    def orders(self) -> list[dict]:
        return self.control.orders()

    def move(self, prices: tuple[Decimal, ...]) -> None:
        for price in prices:
            self.control.set_price(self.script.symbol, price)

    def entry_resting(self, orders: list[dict] | None = None) -> bool:
        rows = self.orders() if orders is None else orders
        return bool(self.script.entry) and any(
            o["side"] == self.script.side and o["status"] in checks.LIVE for o in rows)

    def tolerance(self) -> Decimal:
        return self.rules.step_size * 8  # exits rounded down to the step, a few slices

    def exposure(self, orders: list[dict]) -> Decimal:
        return checks.exposure(orders, self.script.side, self.rules.base_asset, self.script.held)

    def exits_left(self, orders: list[dict]) -> bool:
        return checks.coverage(orders, self.script.side) > 0

    def protected(self, orders: list[dict]) -> bool:
        """A position, every coin of it covered by a live exit: safe to fill while down."""
        held = self.exposure(orders)
        return (held >= self.tolerance()
                and checks.coverage(orders, self.script.side) >= held - self.tolerance())

    # -- checks ------------------------------------------------------------------------------

    def _state_quietly(self) -> State | None:
        try:
            return StateStore(self.state_path).load()
        except Exception:  # noqa: BLE001 - the checks after the run report it
            return None

    def load_state(self) -> State | None:
        try:
            return StateStore(self.state_path).load()
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            self.note("lost steps", f"the state file does not load: {exc!r}")
            return None

    def note(self, counter: str, finding: str) -> None:
        target = self.tally.other if counter == "other" else self.tally.found[counter]
        target.add(f"{self.label}: {finding}")

    def check(self, result: RunResult) -> None:
        where = f"run {self.runs}"
        for finding in checks.tracebacks(result.stderr, where):
            self.note("tracebacks", finding)
        orders, state = self.orders(), self.load_state()
        normal = result.returncode == 0
        for finding in checks.duplicates(orders):
            self.note("duplicates", finding)
        for finding in checks.lost_steps(orders, state, finished=normal):
            self.note("lost steps", finding)
        for finding in checks.orphans(orders, state):
            self.note("other", finding)
        if normal:
            for finding in checks.unprotected(orders, self.script.side, self.rules.base_asset,
                                              self.script.held, self.tolerance()):
                self.note("unprotected after resume", f"after {where}: {finding}")

    # -- the end -----------------------------------------------------------------------------

    def run_until_normal(self, attempts: int = 4, drive: bool = True) -> bool:
        """Resume until apply returns normally (a ban or a refused run is waited out)."""
        last = None
        for _ in range(attempts):
            last = self.run(drive=drive)
            if last.returncode == 0:
                return True
            threading.Event().wait(1.0)
        tail = last.stderr.strip().splitlines()[-1:] if last else []
        self.note("other", f"apply never returned normally in {attempts} runs: {tail}")
        return False

    def settle(self, drive: bool = True) -> None:
        """Let apply place what it can: to a normal return, or (a plan that waits for a
        client-side expiry never returns early) SIGKILLed after a while."""
        if self.script.lives_long:
            self.tally.trials += self.run(Kill(0, 1.5), drive=drive).killed
        else:
            self.run_until_normal(drive=drive)

    def finish(self, route: str) -> None:
        """Run to a normal return; fill the entry where it rests, close the position by
        `route`, run again, until every step is final (a few rounds at most)."""
        if self.script.lives_long:
            self.closing = route
        if not self.run_until_normal():
            return
        for _ in range(4):
            orders = self.orders()
            if self.entry_resting(orders):
                self.move(self.script.entry)
            elif self.exposure(orders) >= self.tolerance():
                self.move(self.script.route(route))
            elif self.complete():
                break
            if not self.run_until_normal():
                return
        self.check_complete()

    def complete(self) -> bool:
        state = self.load_state()
        return state is not None and all(s.status.is_final for s in state.steps)

    def check_complete(self) -> None:
        state = self.load_state()
        if state is None:
            self.note("other", "no state file at the end")
            return
        open_steps = {s.id: str(s.status) for s in state.steps if not s.status.is_final}
        if open_steps:
            self.note("other", f"steps not final at the end: {open_steps}")
        held = self.exposure(self.orders())
        if held >= self.tolerance():
            self.note("other", f"{held} {self.rules.base_asset} still held at the end")


def _pump(stream, lines: queue.Queue, out: Path) -> None:
    with out.open("w") as copy:  # kept with the run's stderr, to read a finding's story
        for line in stream:
            copy.write(line)
            lines.put(line)
    lines.put(None)


def _later(proc: subprocess.Popen, after_s: float, action: Callable[[], None]) -> None:
    threading.Event().wait(after_s)
    if proc.poll() is None:
        action()
