"""Raw plan mapping -> schema problems in our own words, each at the mark of the offending node.

Validation itself is JSON Schema 2020-12 (planrunner/schemas/plan.schema.json, all errors via
iter_errors); this module only translates each jsonschema error into a sentence a trader can act
on. jsonschema is imported lazily and the validator is built once, so `import planrunner.plan`
stays cheap for commands that never validate.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any

from planrunner.plan.load import Loaded, Mark, Path

Problem = tuple[Mark, str]

# What each reusable value kind must look like, phrased as "<field> must be ...".
_EXPECT = {
    "price": 'a positive price such as 68500, or a quoted offset such as "+3%", "-2.5%" or "-300"',
    "absolutePrice": "an absolute positive price such as 7150 (no offset here)",
    "amount": "a positive number such as 0.01",
    "portion": "a percent string such as 50% or 33.34%",
    "trailing": 'a percent string such as "1%"',
    "duration": "a duration such as 90s, 30m, 12h or 2d",
}
_FIELD_HINTS = {
    "portion": "write portion as a percentage, e.g. 50%",
}
_CROSS_FIELD = "cross-field"
# Trader shorthand that difflib cannot see as close to the real key.
_ALIASES = {
    "tif": "time_in_force", "tp": "take_profit", "tps": "take_profit", "targets": "take_profit",
    "sl": "stop", "stop_loss": "stop", "stoploss": "stop", "qty": "quantity", "size": "quantity",
    "amount": "quantity", "expiry": "expire_after", "expires": "expire_after", "ttl": "expire_after",
    "pair": "symbol", "market": "symbol", "venue": "exchange", "stop_price": "trigger",
    "limit_price": "limit", "trail": "trailing", "pct": "portion", "percent": "portion",
}


@lru_cache(maxsize=1)
def plan_schema() -> dict[str, Any]:
    """The plan JSON Schema shipped inside the package."""
    import json  # lazy, with importlib.resources: only validation needs them
    from importlib import resources

    text = resources.files("planrunner.schemas").joinpath("plan.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator, validators  # lazy: tens of ms of imports

    strict = validators.extend(Draft202012Validator, {"pattern": _strict_pattern})
    return strict(plan_schema())


def _strict_pattern(validator, pattern: str, instance: object, schema: dict):
    """`pattern` as editors read it (ECMA): `$` does not accept a trailing newline and `\\d` is
    ASCII only. Python's re.search would let "btc\\n" or Arabic-Indic digits through."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not re.fullmatch(pattern, instance, re.ASCII):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def where(path: Path) -> str:
    """A field's name as a trader reads it: take_profit #2 price (list items counted from 1)."""
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"#{step + 1}")
        elif parts and not parts[-1].startswith("#"):
            parts[-1] += f".{step}"
        else:
            parts.append(str(step))
    return " ".join(parts) or "the plan"


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    return text if len(text) <= 40 else text[:37] + "..."


def validate(doc: Loaded) -> list[Problem]:
    """Every schema problem in `doc`, translated, in document order, without duplicates."""
    problems: list[Problem] = []
    for error in _validator().iter_errors(doc.data):
        for problem in _translate(error, doc):
            if problem not in problems:
                problems.append(problem)
    return sorted(problems)


def _is_cross_field(error) -> bool:
    schema_path = list(error.schema_path)
    if error.absolute_path or not schema_path or schema_path[0] != "allOf":
        return False
    rule = plan_schema()["allOf"][schema_path[1]]
    return str(rule.get("$comment", "")).startswith(_CROSS_FIELD)


def _translate(error, doc: Loaded) -> list[Problem]:
    if _is_cross_field(error):
        return []  # plan/rules.py states these in better words, even when the schema fails
    path: Path = tuple(error.absolute_path)
    handler = _HANDLERS.get(error.validator, _generic)
    return handler(error, path, doc)


def _unknown_keys(error, path: Path, doc: Loaded) -> list[Problem]:
    allowed = sorted(error.schema.get("properties", {}))
    problems = []
    for key in error.instance:
        if key in allowed:
            continue
        close = _suggest(key, allowed)
        hint = f"did you mean {close!r}?" if close else f"allowed here: {', '.join(allowed)}"
        inside = f" in {where(path)}" if path else ""
        problems.append((doc.mark(path + (key,), key=True),
                         f"unknown key {key!r}{inside}; {hint}"))
    return problems


def _suggest(key: str, allowed: list[str]) -> str | None:
    alias = _ALIASES.get(key.lower())
    if alias in allowed:
        return alias
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def _missing(error, path: Path, doc: Loaded) -> list[Problem]:
    problems = []
    for key in error.validator_value:
        if isinstance(error.instance, dict) and key not in error.instance:
            mark = doc.mark(path, key=True) if path else doc.marks.get((), (1, 1))
            problems.append((mark, _missing_message(path, key, error.instance)))
    return problems


def _missing_message(path: Path, key: str, instance: dict) -> str:
    if path == ("stop",) and key == "limit":
        return ('stop needs a limit price with type limit, e.g. limit: "-0.3%" '
                "(or write type: market for a stop-market order)")
    if path == ("entry",) and key != "type":
        return f"entry type {instance.get('type')} needs {key!r}; add entry.{key}"
    inside = f"{where(path)} " if path else "the plan "
    return f"{inside}is missing the required key {key!r}"


def _forbidden(error, path: Path, doc: Loaded) -> list[Problem]:
    mark = doc.mark(path, key=True)
    parent = _lookup(doc.data, path[:-1])
    kind = parent.get("type") if isinstance(parent, dict) else None
    if path == ("stop", "limit"):
        return [(mark, "stop.limit must be omitted with stop type market "
                       "(a stop-market order has no limit price); remove it or use type: limit")]
    return [(mark, f"{where(path)} is not used with entry type {kind}; remove it")]


def _lookup(data: object, path: Path) -> object:
    for step in path:
        if isinstance(data, dict) and isinstance(step, str):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and step < len(data):
            data = data[step]
        else:
            return None
    return data


def _enum(error, path: Path, doc: Loaded) -> list[Problem]:
    options = [str(o) for o in error.validator_value]
    message = f"{where(path)} must be one of {', '.join(options)} (got {_shown(error.instance)})"
    if isinstance(error.instance, str):
        close = difflib.get_close_matches(error.instance.lower(), options, n=1, cutoff=0.5)
        if close:
            message += f"; did you mean {close[0]!r}?"
    return [(doc.mark(path), message)]


def _const(error, path: Path, doc: Loaded) -> list[Problem]:
    return [(doc.mark(path), f"{where(path)} must be {error.validator_value} "
                                   f"(got {_shown(error.instance)})")]


def _def_name(schema: object) -> str | None:
    for name, sub in plan_schema()["$defs"].items():
        if schema == sub:
            return name
    return None


def _value_problem(error, path: Path, doc: Loaded) -> list[Problem]:
    """type / pattern / anyOf / bounds failures: say what the field must look like."""
    message = _field_expectation(error, path)
    hint = doc.hints.get(path) or _FIELD_HINTS.get(_def_name(error.schema) or "")
    if hint:
        message += f"; {hint}"
    return [(doc.mark(path), message)]


def _field_expectation(error, path: Path) -> str:
    got = f" (got {_shown(error.instance)})"
    name = _def_name(error.schema)
    if name in _EXPECT:
        return f"{where(path)} must be {_EXPECT[name]}{got}"
    if path == ("symbol",):
        return _symbol_message(error.instance)
    if path == ("name",):
        return ("name must be lowercase letters, digits and dashes, starting with a letter or "
                f"digit, at most 40 characters, e.g. btc-breakout{got}")
    if error.validator == "type":
        words = _TYPE_WORDS.get(error.validator_value, error.validator_value)
        return f"{where(path)} must be {words}{got}{_shape_hint(path, error.instance)}"
    return f"{where(path)} is invalid{got}"  # pragma: no cover - every schema field is covered


_TYPE_WORDS = {
    "object": "a mapping of keys (key: value lines)",
    "array": "a list (lines starting with '- ')",
    "string": "text",
    "integer": "a whole number",
}


def _shape_hint(path: Path, value: object) -> str:
    """A scalar written where a mapping belongs: show the mapping it was probably meant as."""
    if path == ("entry",) and isinstance(value, str):
        return f"; write it as: entry: {{type: {value}}}"
    if path == ("stop",) and isinstance(value, (str, int)) and not isinstance(value, bool):
        return f'; write it as: stop: {{trigger: "{value}", limit: "-0.3%"}}'
    return ""


def _symbol_message(value: object) -> str:
    message = f"symbol must be the exchange symbol in capitals, e.g. BTCUSDT (got {_shown(value)})"
    if isinstance(value, str):
        squeezed = re.sub(r"[^A-Za-z0-9]", "", value).upper()
        if 2 <= len(squeezed) <= 20 and squeezed != value:
            message += f"; write {squeezed}"
    return message


def _items(error, path: Path, doc: Loaded) -> list[Problem]:
    if error.validator == "minItems":
        message = f"{where(path)} needs at least one target (or remove it and keep a stop)"
    else:
        message = f"{where(path)} has {len(error.instance)} targets; at most 8 are allowed"
    return [(doc.mark(path), message)]


def _generic(error, path: Path, doc: Loaded) -> list[Problem]:
    return _value_problem(error, path, doc)


_HANDLERS = {
    "additionalProperties": _unknown_keys,
    "required": _missing,
    "not": _forbidden,
    "enum": _enum,
    "const": _const,
    "minItems": _items,
    "maxItems": _items,
}
