"""The chaos suite's scenarios: SIGKILL at random moments for every example plan, and the fault
matrix (5xx after executing, dropped responses, 429 with Retry-After, 418, clock skew, partial
fills, a manual cancel of a protective order and a fill while apply is down). Each episode is a
seeded program over one chaos_lib.Episode; `run_episode` is the unit both bench/chaos and the
tests run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaos_lib import Episode, Kill, Tally, random_kill
from chaos_markets import SCRIPTS, Script, script

Program = Callable[[Episode, random.Random], None]


@dataclass(frozen=True, slots=True)
class Task:
    """One episode to run: scenario name, plan, seed, SIGKILLs to deal, where to work."""

    scenario: str
    plan: str
    seed: int
    kills: int
    folder: str
    pycache: str


def maybe_kill(rng: random.Random, share: float = 0.5) -> Kill | None:
    return random_kill(rng) if rng.random() < share else None


def _run(ep: Episode, rng: random.Random, kill: Kill | None = None, **kw) -> None:
    if kill is None and ep.script.lives_long:
        kill = Kill(0, 1.5)  # it would wait for a fill (or a 12 h expiry) until killed
    result = ep.run(kill, **kw)
    ep.tally.trials += result.killed


def move_while_down(ep: Episode, rng: random.Random) -> bool:
    """Fill a resting entry, or close a fully protected position, while no apply runs."""
    orders = ep.orders()
    if ep.entry_resting(orders):
        ep.move(ep.script.entry)
        return True
    if ep.protected(orders):
        ep.move(ep.script.route(rng.choice(ep.script.routes)))
        return True
    return False


def sigkill_program(kills: int) -> Program:
    def program(ep: Episode, rng: random.Random) -> None:
        for _ in range(kills):
            if rng.random() < 0.25:
                ep.tally.trials += move_while_down(ep, rng)
            _run(ep, rng, random_kill(rng), drive=rng.random() < 0.3)
        ep.finish(rng.choice(ep.script.routes))
    return program


def fault_program(kind: str, path_of: Callable[[Script], str | None], **fields) -> Program:
    """The fault hits the next request on its path (an order or order-list POST); one random
    SIGKILL may follow before the plan is driven to its end."""
    def program(ep: Episode, rng: random.Random) -> None:
        ep.control.add_fault(kind, path=path_of(ep.script), **_draw(fields, rng))
        ep.tally.trials += 1
        _run(ep, rng, maybe_kill(rng, 0.3))
        ep.finish(rng.choice(ep.script.routes))  # a ban is waited out, not lifted
    return program


def _draw(fields: dict, rng: random.Random) -> dict:
    return {k: (rng.choice(v) if isinstance(v, tuple) else v) for k, v in fields.items()}


def skew_program(ep: Episode, rng: random.Random) -> None:
    """The server clock jumps past recvWindow (5 s) while apply runs, after it synced."""
    skew = rng.choice((-1, 1)) * rng.randint(6_000, 20_000)
    at = rng.uniform(0.15, 0.5)
    ep.tally.trials += 1
    _run(ep, rng, maybe_kill(rng, 0.3),
         during=(at, lambda: ep.control.add_fault("skew", ms=skew)))
    _run(ep, rng, maybe_kill(rng, 0.3))  # a fresh process syncs against the skewed clock
    ep.control.clear_faults()
    ep.finish(rng.choice(ep.script.routes))


def partial_program(ep: Episode, rng: random.Random) -> None:
    """A resting entry fills only in part; the rest fills later."""
    ep.settle(drive=False)
    resting = [o for o in ep.orders() if o["side"] == ep.script.side and o["status"] == "NEW"]
    if resting:
        fraction = str(round(rng.uniform(0.2, 0.8), 2))
        ep.control.add_fault("partial", symbol=ep.script.symbol, fraction=fraction,
                             client_order_id=rng.choice(resting)["clientOrderId"])
        ep.tally.trials += 1
        ep.move(ep.script.entry)
        _run(ep, rng, maybe_kill(rng), drive=False)
        ep.settle(drive=False)  # after a normal return the filled part must be protected
    ep.finish(rng.choice(ep.script.routes))


def manual_cancel_program(ep: Episode, rng: random.Random) -> None:
    """A person cancels a live exit leg in the exchange's app while apply is down."""
    ep.settle()
    if ep.entry_resting():
        ep.move(ep.script.entry)
        ep.settle()
    legs = [o for o in ep.orders() if o["side"] != ep.script.side and o["status"] == "NEW"]
    if legs:
        leg = rng.choice(legs)
        ep.control.cancel(ep.script.symbol, leg["clientOrderId"])
        ep.tally.trials += 1
        _run(ep, rng, maybe_kill(rng))
    ep.finish(rng.choice(ep.script.routes))


def repair_window_program(ep: Episode, rng: random.Random) -> None:
    """A manual cancel, then a resume SIGKILLed after it saved the cancelled step and before
    it saved the repair: the account reads the repair decision waits on are held 1.5 s each."""
    ep.settle()
    if ep.entry_resting():
        ep.move(ep.script.entry)
        ep.settle()
    legs = [o for o in ep.orders() if o["side"] != ep.script.side and o["status"] == "NEW"]
    if legs:
        ep.control.cancel(ep.script.symbol, rng.choice(legs)["clientOrderId"])
        ep.control.add_fault("delay", path="/api/v3/account", ms=1500, count=3)
        ep.tally.trials += 1
        _run(ep, rng, Kill(0, 0.3, deadline_s=8.0, event="step_done"))
        ep.control.clear_faults()
    ep.finish(rng.choice(ep.script.routes))


def fill_while_down_program(ep: Episode, rng: random.Random) -> None:
    """The price runs through a take-profit or the stop while no apply runs."""
    ep.settle()
    if ep.entry_resting():
        ep.move(ep.script.entry)
        ep.settle()
    route = rng.choice(ep.script.routes)
    if ep.protected(ep.orders()):
        ep.move(ep.script.route(route))
        ep.tally.trials += 1
        _run(ep, rng, maybe_kill(rng))
    ep.finish(route)


def _order_path(s: Script) -> str | None:
    return s.first_order_path


def _list_path(s: Script) -> str | None:
    return s.list_path


def _any_order_path(s: Script) -> str | None:
    return s.first_order_path or s.list_path


ALL_PLANS = tuple(s.plan for s in SCRIPTS)
WITH_ORDER = tuple(s.plan for s in SCRIPTS if s.first_order_path)
WITH_LIST = tuple(s.plan for s in SCRIPTS if s.list_path)
RESTING = tuple(s.plan for s in SCRIPTS if s.entry)

# (name, plans the trials rotate through, program)
FAULTS: tuple[tuple[str, tuple[str, ...], Program], ...] = (
    ("5xx after executing (order POST)", WITH_ORDER,
     fault_program("error", _order_path, status=(500, 502, 503, 504))),
    ("dropped response (order POST)", WITH_ORDER, fault_program("drop", _order_path)),
    ("dropped response (order-list POST)", WITH_LIST, fault_program("drop", _list_path)),
    ("429 with Retry-After", ALL_PLANS,
     fault_program("rate_limit", _any_order_path, retry_after=(1, 2), count=(1, 2))),
    ("418 ban", ALL_PLANS, fault_program("ban", _any_order_path, retry_after=(1, 2))),
    ("clock skew beyond recvWindow", ALL_PLANS, skew_program),
    ("partial fill of a resting entry", RESTING, partial_program),
    ("manual cancel of a protective order", ALL_PLANS, manual_cancel_program),
    ("fill while down", ALL_PLANS, fill_while_down_program),
    ("manual cancel, killed before the repair", ALL_PLANS, repair_window_program),
)


def program_for(task: Task) -> Program:
    if task.scenario.startswith("sigkill "):
        return sigkill_program(task.kills)
    return {name: program for name, _, program in FAULTS}[task.scenario]


def sigkill_tasks(seed: int, kills_per_plan: int, per_episode: int, folder: Path,
                  pycache: Path) -> list[Task]:
    tasks = []
    for n, s in enumerate(SCRIPTS):
        left, k = kills_per_plan, 0
        while left > 0:
            kills = min(per_episode, left)
            tasks.append(Task(f"sigkill {s.plan.removesuffix('.yaml')}", s.plan,
                              seed * 1000 + n * 100 + k, kills, str(folder), str(pycache)))
            left, k = left - kills, k + 1
    return tasks


def fault_tasks(seed: int, episodes: int, folder: Path, pycache: Path) -> list[Task]:
    tasks = []
    for n, (name, plans, _) in enumerate(FAULTS):
        for k in range(episodes):
            tasks.append(Task(name, plans[(k + seed) % len(plans)],
                              seed * 1000 + 500 + n * 20 + k, 0, str(folder), str(pycache)))
    return tasks


def run_episode(task: Task) -> tuple[str, Tally]:
    """Run one task's episode on its own simulator; its tally, keyed by scenario."""
    label = f"{task.scenario} [{task.plan}, seed {task.seed}]"
    slug = "".join(c if c.isalnum() else "-" for c in task.scenario)
    ep = Episode(script(task.plan), Path(task.folder) / f"{slug}-{task.seed}",
                 Path(task.pycache), label)
    try:
        program_for(task)(ep, random.Random(task.seed))
    except Exception as exc:  # noqa: BLE001 - a harness failure is reported, not raised
        ep.note("other", f"the harness failed: {exc!r}")
    finally:
        ep.close()
    return task.scenario, ep.tally
