"""The state file: what planrunner has sent, what the exchange answered, crash-safely on disk.

Versioned JSON (keys sorted, indented, Decimals as strings). `StateStore.save` writes a temp file
in the same folder, fsyncs it, `os.replace`s it over the old one and fsyncs the folder, so a crash
at any instant leaves either the old or the new file, whole. The previous version is kept as
`<state>.backup`. A file that cannot be trusted is refused and never overwritten.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from planrunner.atomic import write_atomically
from planrunner.errors import StateCorrupt, StateError
from planrunner.lock import LockHolder, StateLock
from planrunner.money import ZERO

FORMAT_VERSION = 1


class StepStatus(StrEnum):
    PENDING = "pending"  # nothing sent yet
    SENDING = "sending"  # intent persisted; the exchange may or may not have it
    PLACED = "placed"  # the exchange has it (open, or not yet seen final)
    WAITING = "waiting"  # AWAIT_FILL / delayed CANCEL in progress
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # a step it depends on failed

    @property
    def is_final(self) -> bool:
        return self in (StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED)


@dataclass(frozen=True, slots=True)
class LegIds:
    role: str
    client_order_id: str
    order_id: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    kind: str  # ActionKind value
    status: StepStatus = StepStatus.PENDING
    client_id: str | None = None  # newClientOrderId / listClientOrderId
    order_id: int | None = None
    order_list_id: int | None = None
    legs: tuple[LegIds, ...] = ()
    endpoint: str | None = None  # the exact request persisted before sending (resent verbatim)
    request: tuple[tuple[str, str], ...] = ()
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    quote_qty: Decimal = ZERO
    fees: tuple[tuple[str, Decimal], ...] = ()  # asset -> amount, sorted by asset
    sent_ms: int | None = None
    placed_ms: int | None = None
    finished_ms: int | None = None
    attempts: int = 0
    last_error: str | None = None
    cancel_sent_ms: int | None = None  # planrunner asked the exchange to cancel this step

    def leg_ids(self) -> tuple[str, ...]:
        return tuple(leg.client_order_id for leg in self.legs)


@dataclass(frozen=True, slots=True)
class FillRecord:
    client_order_id: str
    trade_id: int
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int = 0


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """The last known exchange snapshot of one order (trade ids point into State.fills)."""

    client_order_id: str
    order_id: int
    side: str
    type: str
    status: str
    orig_qty: Decimal
    executed_qty: Decimal = ZERO
    cumulative_quote_qty: Decimal = ZERO
    price: Decimal = ZERO
    stop_price: Decimal = ZERO
    order_list_id: int = -1
    update_time_ms: int = 0
    trade_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DriftRecord:
    """A change on the exchange that planrunner did not cause, and what planrunner did about it."""

    step: str
    client_order_id: str
    kind: str  # cancelled | expired | vanished | protection | partial_fill
    change: str  # e.g. "stop order ... was cancelled outside planrunner"
    time_ms: int
    action: str  # what planrunner did: "re-placed as exit-1-r1", "stopped: ..."
    unsafe: bool = False  # planrunner refuses to go on until a person looks


@dataclass(frozen=True, slots=True)
class State:
    lineage: str
    namespace: str
    plan_fingerprint: str
    plan_name: str
    exchange: str
    symbol: str
    serial: int = 0
    steps: tuple[Step, ...] = ()
    orders: tuple[OrderRecord, ...] = ()
    fills: tuple[FillRecord, ...] = ()
    realised_pnl: Decimal | None = None
    # the last price the plan was first compiled against: a resumed apply recompiles against it,
    # so what was already sent is not re-judged against today's market (the engine judges what
    # is still to send, when it sends it)
    compiled_price: Decimal | None = None
    # entry: none: the plan's cost_basis, the entry price the exits' realised P&L is measured
    # against when nothing was entered through planrunner
    cost_basis: Decimal | None = None
    drift: tuple[DriftRecord, ...] = ()  # also protection failures and partial-fill decisions

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def order(self, client_order_id: str) -> OrderRecord | None:
        return next((o for o in self.orders if o.client_order_id == client_order_id), None)

    def with_step(self, step: Step) -> State:
        if self.step(step.id) is None:
            return dataclasses.replace(self, steps=self.steps + (step,))
        steps = tuple(step if s.id == step.id else s for s in self.steps)
        return dataclasses.replace(self, steps=steps)

    def with_order(self, record: OrderRecord) -> State:
        others = tuple(o for o in self.orders if o.client_order_id != record.client_order_id)
        orders = tuple(sorted(others + (record,), key=lambda o: o.client_order_id))
        return dataclasses.replace(self, orders=orders)

    def with_fills(self, fills: tuple[FillRecord, ...]) -> State:
        return dataclasses.replace(self, fills=self.fills + fills)

    def with_drift(self, record: DriftRecord) -> State:
        return dataclasses.replace(self, drift=self.drift + (record,))

    @property
    def has_exchange_activity(self) -> bool:
        """True once anything may have reached the exchange (then the state must be kept)."""
        return bool(self.orders) or any(s.status is not StepStatus.PENDING for s in self.steps)


def namespace_for(lineage: str) -> str:
    """6 lowercase base32 characters derived from the lineage; they go into client order ids."""
    digest = hashlib.sha256(lineage.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:6].lower()


def new_state(*, plan_name: str, plan_fingerprint: str, exchange: str, symbol: str,
              lineage: str | None = None) -> State:
    lineage = lineage or str(uuid.uuid4())
    return State(lineage=lineage, namespace=namespace_for(lineage),
                 plan_fingerprint=plan_fingerprint, plan_name=plan_name, exchange=exchange,
                 symbol=symbol)


def default_state_path(plan_path: str | os.PathLike[str]) -> Path:
    """`plans/btc.yaml` -> `plans/btc.state.json`."""
    plan = Path(plan_path)
    stem = plan.stem if plan.suffix.lower() in (".yaml", ".yml") else plan.name
    return plan.with_name(f"{stem}.state.json")


def check_plan(state: State, *, plan_name: str | None, fingerprint: str | None,
               path: Path) -> None:
    """Refuse a state that belongs to another plan, or to an earlier version of this one."""
    if plan_name is not None and state.plan_name != plan_name:
        raise StateCorrupt(
            f"{path} belongs to plan '{state.plan_name}', not '{plan_name}'. Nothing was changed: "
            f"point --state at this plan's own state file, or use a different path for it.")
    if fingerprint is not None and state.plan_fingerprint != fingerprint:
        raise StateError(
            f"{path} was made for a different version of plan '{state.plan_name}' (the plan file "
            f"changed since it was applied). Nothing was changed: restore the plan as it was, or "
            f"give the edited plan a new state file with --state.")


def render_state(state: State) -> bytes:
    from planrunner.statecodec import state_to_dict  # the codec imports this module's types
    data = state_to_dict(state, FORMAT_VERSION)
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _restore_advice(path: Path) -> str:
    backup = path.with_name(path.name + ".backup")
    return (f"Nothing was changed. If {backup} is intact, restore it (cp {backup} {path}); "
            f"otherwise move {path} away to start over (orders already placed will then not be "
            f"tracked: check them on the exchange).")


def parse_state(raw: bytes, path: Path) -> State:
    """Bytes of a state file -> State; StateCorrupt with a message saying what to do."""
    from planrunner.statecodec import CodecError, state_from_dict
    if not raw.strip():
        raise StateCorrupt(f"{path} is empty (truncated write?). {_restore_advice(path)}")
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=_refuse_float)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateCorrupt(f"{path} is not a valid state file ({exc}). "
                           f"{_restore_advice(path)}") from None
    except RecursionError:  # thousands of nested brackets: never a state file
        raise StateCorrupt(f"{path} is not a valid state file (nested too deeply). "
                           f"{_restore_advice(path)}") from None
    _check_version(data, path)
    try:
        state = state_from_dict(data)
    except CodecError as exc:
        raise StateCorrupt(f"{path} is damaged: {exc}. {_restore_advice(path)}") from None
    if state.namespace != namespace_for(state.lineage):
        raise StateCorrupt(f"{path} is damaged: its namespace does not match its lineage. "
                           f"{_restore_advice(path)}")
    return state


def _refuse_float(text: str) -> Decimal:
    raise ValueError(f"bare number {text} where a quoted decimal string was expected")


def _check_version(data: object, path: Path) -> None:
    version = data.get("format_version") if isinstance(data, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateCorrupt(f"{path} is not a planrunner state file (no format_version). "
                           f"{_restore_advice(path)}")
    if version < 1:
        raise StateCorrupt(f"{path} has format_version {version}, which no planrunner writes "
                           f"(edited by hand?). {_restore_advice(path)}")
    if version > FORMAT_VERSION:
        raise StateCorrupt(
            f"{path} was written by a newer planrunner (state format {version}; this one reads "
            f"up to {FORMAT_VERSION}). Nothing was changed: upgrade planrunner to use it.")


def _content_equal(a: State, b: State) -> bool:
    return dataclasses.replace(a, serial=0) == dataclasses.replace(b, serial=0)


class StateStore:
    """One state file on disk. `replace` and `fsync` are seams for crash tests."""

    def __init__(self, path: str | os.PathLike[str], *,
                 replace: Callable[[Path, Path], None] = os.replace,
                 fsync: Callable[[int], None] = os.fsync):
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self._lock = StateLock(self.path)
        self._replace = replace
        self._fsync = fsync

    @property
    def lock_path(self) -> Path:
        return self._lock.path

    def load(self, *, plan_name: str | None = None, fingerprint: str | None = None) -> State | None:
        raw = self._read()
        if raw is None:
            return None
        state = parse_state(raw, self.path)
        check_plan(state, plan_name=plan_name, fingerprint=fingerprint, path=self.path)
        return state

    def save(self, state: State) -> State:
        """Write `state` if its content changed; returns it with the serial it now has on disk."""
        raw = self._read()
        if raw is None:
            return self._write(dataclasses.replace(state, serial=state.serial + 1), None)
        current = parse_state(raw, self.path)
        self._check_successor(current, state)
        if _content_equal(current, state):
            return dataclasses.replace(state, serial=current.serial)
        return self._write(dataclasses.replace(state, serial=current.serial + 1), raw)

    @contextmanager
    def lock(self, command: str) -> Iterator[LockHolder]:
        with self._lock.hold(command) as holder:
            yield holder

    def force_unlock(self) -> LockHolder | None:
        return self._lock.force_unlock()

    def lock_holder(self) -> LockHolder | None:
        return self._lock.holder()

    def _check_successor(self, current: State, state: State) -> None:
        if current.lineage != state.lineage:
            raise StateError(
                f"{self.path} holds another state (lineage {current.lineage}); refusing to "
                f"overwrite it. Use a different --state path, or move that file away.")
        if state.serial < current.serial:
            raise StateError(
                f"{self.path} changed since it was read (serial {current.serial} on disk, "
                f"{state.serial} here): another run wrote it. Re-run to pick up its changes.")

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise StateError(
                f"{self.path} is a directory; give a file path for the state") from None

    def _write(self, state: State, previous: bytes | None) -> State:
        if previous is not None:
            self._atomic_write(self.backup_path, previous)
        self._atomic_write(self.path, render_state(state))
        return state

    def _atomic_write(self, path: Path, data: bytes) -> None:
        if not path.parent.is_dir():
            raise StateError(f"cannot write {path}: the folder {path.parent} does not exist; "
                             f"create it or choose another --state path")
        write_atomically(path, data, replace=self._replace, fsync=self._fsync)


