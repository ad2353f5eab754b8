"""Saved plans (`planrunner plan --out FILE`): write and read the file that fixes a plan's client
ids and records the state it was made against, so `apply FILE` can refuse it once stale.

The file is sorted, indented JSON (Decimals as strings) holding the `render_json` payload plus
the plan path, fingerprint, namespace, state lineage and serial, and when it was made.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planrunner.actions import ActionPlan
from planrunner.atomic import write_atomically
from planrunner.clock import Clock, SystemClock
from planrunner.errors import PlanrunnerError
from planrunner.render import render_json

SAVED_PLAN_FORMAT = "planrunner-saved-plan"
SAVED_PLAN_VERSION = 1
MAX_BYTES = 4 * 1024 * 1024  # a saved plan is a few KiB; anything huge is not ours


@dataclass(frozen=True, slots=True)
class SavedPlan:
    plan_path: str  # the plan file as given to `plan --out`
    fingerprint: str  # ActionPlan.fingerprint: apply recompiles and must get the same
    namespace: str  # the client id namespace every order of this plan uses
    state_lineage: str | None  # None: no state file existed when the plan was made
    state_serial: int | None
    created_at: str  # ISO 8601 UTC, e.g. 2026-11-24T02:50:00Z
    payload: dict[str, Any]  # render_json(action_plan), exactly as shown to the user
    proposed_lineage: str | None = None  # no state yet: the lineage the first apply must use


def save_plan(path: str, action_plan: ActionPlan, *, plan_path: str,
              state_lineage: str | None, state_serial: int | None,
              clock: Clock | None = None, proposed_lineage: str | None = None) -> None:
    """Write atomically: a crash leaves either the old file or the new one, never half of one.

    `proposed_lineage`: with no state file yet, the lineage the first apply must give the new
    state, so that its namespace (and so every client id) is the one shown in this plan."""
    document = {
        "format": SAVED_PLAN_FORMAT, "format_version": SAVED_PLAN_VERSION,
        "plan_path": plan_path, "fingerprint": action_plan.fingerprint,
        "namespace": action_plan.namespace, "state_lineage": state_lineage,
        "state_serial": state_serial, "created_at": _iso((clock or SystemClock()).now_ms()),
        "plan": render_json(action_plan),
        "proposed_lineage": proposed_lineage,
    }
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    _write_atomically(path, text)


def _iso(now_ms: int) -> str:
    moment = datetime.fromtimestamp(now_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_atomically(path: str, text: str) -> None:
    try:
        write_atomically(Path(os.path.abspath(path)), text.encode("utf-8"))
    except OSError as exc:
        raise PlanrunnerError(f"cannot write the saved plan {path}: {exc.strerror}; "
                              "choose a writable folder for --out") from None


def load_saved_plan(path: str) -> SavedPlan:
    """Read a file written by save_plan. Anything else is refused with a PlanrunnerError."""
    document = _parse(path, _read(path))
    _check_format(path, document)
    return _build(path, document)


def _read(path: str) -> bytes:
    try:
        if os.path.isdir(path):
            raise PlanrunnerError(f"{path} is a folder, not a saved plan; pass the file that "
                                  "`planrunner plan --out` wrote")
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PlanrunnerError(f"no saved plan at {path}; make one with "
                              "`planrunner plan PLAN --out FILE`") from None
    except OSError as exc:
        raise PlanrunnerError(f"cannot read the saved plan {path}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise PlanrunnerError(f"{path} is too large to be a saved plan")
    return data


def _corrupt(path: str, why: str) -> PlanrunnerError:
    return PlanrunnerError(f"{path} is not a usable saved plan ({why}); run "
                           "`planrunner plan PLAN --out FILE` again to make a new one")


def _parse(path: str, data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"), parse_float=_no_float)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _corrupt(path, f"not valid JSON: {exc}") from None
    except RecursionError:  # thousands of nested brackets: never a saved plan
        raise _corrupt(path, "not valid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise _corrupt(path, "not a JSON object")
    return document


def _no_float(text: str) -> Any:
    raise ValueError(f"unexpected inexact number {text}")


def _check_format(path: str, document: dict[str, Any]) -> None:
    if document.get("format") != SAVED_PLAN_FORMAT:
        raise PlanrunnerError(f"{path} is not a planrunner saved plan (no \"format\": "
                              f"\"{SAVED_PLAN_FORMAT}\"); pass the file `plan --out` wrote")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _corrupt(path, "format_version is missing")
    if version > SAVED_PLAN_VERSION:
        raise PlanrunnerError(f"{path} was written by a newer planrunner (saved plan format "
                              f"{version}; this one reads up to {SAVED_PLAN_VERSION}); upgrade "
                              "planrunner or make the plan again with this version")
    if version < 1:
        raise _corrupt(path, f"unknown format_version {version}")


_FIELDS: dict[str, tuple[type, ...]] = {
    "plan_path": (str,), "fingerprint": (str,), "namespace": (str,), "created_at": (str,),
    "state_lineage": (str, type(None)), "state_serial": (int, type(None)), "plan": (dict,),
}
_OPTIONAL = {"proposed_lineage": (str, type(None))}


def _build(path: str, document: dict[str, Any]) -> SavedPlan:
    for name, kinds in _FIELDS.items():
        value = document.get(name)
        if name not in document or not isinstance(value, kinds) or isinstance(value, bool):
            raise _corrupt(path, f"field {name!r} is missing or has the wrong type")
    header = document["plan"].get("plan")
    if not isinstance(header, dict) or (header.get("fingerprint"), header.get("namespace")) != (
            document["fingerprint"], document["namespace"]):
        raise _corrupt(path, "its fingerprint or namespace does not match the plan it holds")
    proposed = document.get("proposed_lineage")
    if not isinstance(proposed, _OPTIONAL["proposed_lineage"]):
        raise _corrupt(path, "field 'proposed_lineage' has the wrong type")
    return SavedPlan(plan_path=document["plan_path"], fingerprint=document["fingerprint"],
                     namespace=document["namespace"], state_lineage=document["state_lineage"],
                     state_serial=document["state_serial"], created_at=document["created_at"],
                     payload=document["plan"], proposed_lineage=proposed)
