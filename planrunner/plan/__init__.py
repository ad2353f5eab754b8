"""The plan language: loading, schema validation, the typed model and cross-field rules.

`check_text` / `check_file` never raise: every problem, however broken the input, comes back as
a Diagnostic (FILE:LINE:COLUMN: error: MESSAGE). `load_plan` is the raising form for callers
that only want a valid TradePlan.
"""

from __future__ import annotations

import os

from planrunner.diagnostics import Diagnostic, Severity
from planrunner.errors import PlanError
from planrunner.plan import rules, schema
from planrunner.plan.load import MAX_BYTES, load_text
from planrunner.plan.model import TradePlan, build_plan

__all__ = ["check_file", "check_text", "load_plan"]


def check_text(text: str | bytes, filename: str) -> tuple[TradePlan | None, list[Diagnostic]]:
    """Validate one plan document. Returns a TradePlan only when there are no errors."""
    try:
        return _check(text, filename)
    except Exception as exc:  # noqa: BLE001 - the promise is "never a traceback"; tests assert
        # this branch is never taken, so a bug still shows up there rather than in a user's face.
        return None, [Diagnostic(filename, 0, 0, f"internal error while checking the plan "
                                                 f"({type(exc).__name__}); please report it")]


def _check(text: str | bytes, filename: str) -> tuple[TradePlan | None, list[Diagnostic]]:
    doc, diagnostics = load_text(text, filename)
    if doc is None:
        return None, diagnostics
    if not isinstance(doc.data, dict):
        diagnostics.append(Diagnostic(filename, *doc.marks.get((), (1, 1)),
                                      "the top level of a plan must be a mapping of keys "
                                      "(version: 1, name: ..., symbol: ...)"))
        return None, diagnostics
    shape = schema.validate(doc)
    presence = [(doc.mark(path), message) for path, message in rules.check_presence(doc.data)]
    found = [*shape, *presence]
    plan = None
    if not shape and not presence:  # the builder trusts a complete, well-shaped mapping
        plan = build_plan(doc.data)
        found += [(doc.mark(path), message) for path, message in rules.check_rules(plan)]
    diagnostics += [Diagnostic(filename, line, column, message)
                    for (line, column), message in sorted(set(found))]
    diagnostics.sort(key=Diagnostic.sort_key)
    failed = any(d.severity == Severity.ERROR for d in diagnostics)
    return (None if failed else plan), diagnostics


def check_file(path: str) -> tuple[TradePlan | None, list[Diagnostic]]:
    """Read and validate a plan file. Unreadable input becomes a diagnostic at line 0 col 0."""
    data, problem = _read(path)
    if data is None:
        return None, [Diagnostic(path, 0, 0, problem)]
    return check_text(data, path)


def _read(path: str) -> tuple[bytes | None, str]:
    try:
        if os.path.isdir(path):
            return None, "this is a directory; give the path of a plan file (.yaml)"
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # enough to tell "too big" without reading it all
    except FileNotFoundError:
        return None, "no such file; check the path"
    except PermissionError:
        return None, "permission denied; check the file's permissions"
    except (OSError, ValueError) as exc:
        return None, f"cannot read the file ({getattr(exc, 'strerror', None) or exc})"
    if len(data) > MAX_BYTES:
        return None, (f"the file is larger than {MAX_BYTES // 1024} KiB; plans are small YAML "
                      "files, is this the right file?")
    return data, ""


def load_plan(path: str) -> TradePlan:
    """The TradePlan in `path`; raises PlanError carrying every diagnostic if it is invalid."""
    plan, diagnostics = check_file(path)
    if plan is None:
        raise PlanError(diagnostics)
    return plan
