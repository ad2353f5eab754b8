"""Cross-field rules of a plan: the checks that relate several fields to each other.

Two entry points. `check_presence` works on the raw mapping, so it reports missing or
conflicting keys even when the schema found other problems. `check_rules` works on a built
TradePlan and checks prices, portions and distances. Both return (path, message) pairs; the
caller turns paths into line:column marks. Nothing here raises for a plan that passed the schema.
"""

from __future__ import annotations

from decimal import Decimal

from planrunner.money import HUNDRED, ZERO, fmt
from planrunner.plan.load import Path
from planrunner.plan.model import EntryType, PriceExpr, PriceKind, Side, SizeKind, TradePlan

Problem = tuple[Path, str]

_SIZE_KEYS = tuple(kind.value for kind in SizeKind)


# -- presence (raw mapping) ------------------------------------------------------------------

def check_presence(raw: object) -> list[Problem]:
    """Exactly one size; entry none sized by quantity; risk needs a stop; an exit exists."""
    if not isinstance(raw, dict):
        return []
    return [*_size_presence(raw), *_exit_presence(raw)]


def _entry_type(raw: dict) -> object:
    entry = raw.get("entry")
    return entry.get("type") if isinstance(entry, dict) else None


def _size_presence(raw: dict) -> list[Problem]:
    present = [key for key in _SIZE_KEYS if key in raw]
    if _entry_type(raw) == "none":
        return _none_entry_size(present)
    if not present:
        return [((), "the plan needs a size: add exactly one of quantity, spend or risk")]
    return [((key,), f"write only one of quantity, spend or risk (this plan has "
                     f"{' and '.join(present)}); remove {key}") for key in present[1:]]


def _none_entry_size(present: list[str]) -> list[Problem]:
    problems: list[Problem] = [
        ((key,), f"entry type none protects coins already held, so size it with quantity; "
                 f"replace {key} with quantity") for key in present if key != "quantity"]
    if "quantity" not in present and not problems:
        problems.append(((), "entry type none needs quantity: how many coins to protect"))
    return problems


def _exit_presence(raw: dict) -> list[Problem]:
    problems: list[Problem] = []
    if "risk" in raw and "stop" not in raw:
        problems.append((("risk",), "risk needs a stop: the size is what you lose if the stop "
                                    "hits; add a stop or size the plan with quantity or spend"))
    if "take_profit" not in raw and "stop" not in raw:
        problems.append(((), "the plan needs a way out: add take_profit, stop or both"))
    return problems


# -- values (built plan) ---------------------------------------------------------------------

def check_rules(plan: TradePlan) -> list[Problem]:
    """Every price, portion and distance rule of PLAN-LANGUAGE.md, all reported together."""
    reference = entry_reference(plan)
    return [
        *_positive_values(plan),
        *_portions(plan),
        *_cost_basis_needed(plan),
        *_take_profit_sides(plan, reference),
        *_take_profit_order(plan, reference),
        *_stop_side(plan, reference),
        *_stop_against_targets(plan, reference),
        *_stop_limit(plan, reference),
        *_trailing(plan, reference),
    ]


def entry_reference(plan: TradePlan) -> Decimal | None:
    """The price relative exits are measured from, or None when only the fill will tell."""
    entry = plan.entry
    if entry.type is EntryType.LIMIT and entry.price is not None:
        return _positive_or_none(entry.price.value)
    if entry.type is EntryType.STOP_LIMIT and entry.trigger and entry.limit:
        return _positive_or_none(entry.limit.resolve(entry.trigger.value))
    if entry.type is EntryType.NONE and entry.cost_basis is not None:
        return _positive_or_none(entry.cost_basis)
    return None


def _positive_or_none(value: Decimal) -> Decimal | None:
    return value if value > ZERO else None


def _direction(plan: TradePlan) -> int:
    """+1 when targets sit above the entry (buy), -1 when below (sell)."""
    return 1 if plan.side is Side.BUY else -1


def _words(plan: TradePlan) -> tuple[str, str]:
    return ("above", "below") if plan.side is Side.BUY else ("below", "above")


def _resolved(expr: PriceExpr, reference: Decimal | None) -> Decimal | None:
    if expr.kind is PriceKind.ABSOLUTE:
        return expr.value
    return None if reference is None else expr.resolve(reference)


def _tp_path(index: int) -> Path:
    return ("take_profit", index, "price")


# positivity, portions, durations ------------------------------------------------------------

def _positive_values(plan: TradePlan) -> list[Problem]:
    entry = plan.entry
    checks: list[tuple[Path, Decimal | None, str]] = [
        ((plan.size.kind.value,), plan.size.amount, plan.size.kind.value),
        (("entry", "cost_basis"), entry.cost_basis, "entry.cost_basis"),
        (("entry", "price"), entry.price and entry.price.value, "entry.price"),
        (("entry", "trigger"), entry.trigger and entry.trigger.value, "entry.trigger"),
    ]
    problems = [(path, f"{label} must be greater than 0")
                for path, value, label in checks if value is not None and value <= ZERO]
    if entry.expire_after_s is not None and entry.expire_after_s <= 0:
        problems.append((("entry", "expire_after"), "entry.expire_after must be longer than 0"))
    if entry.trigger and entry.limit and entry.trigger.value > ZERO:
        if entry.limit.resolve(entry.trigger.value) <= ZERO:
            problems.append((("entry", "limit"), "entry.limit resolves to a price at or below 0"))
    return problems


def _portions(plan: TradePlan) -> list[Problem]:
    problems: list[Problem] = []
    for index, target in enumerate(plan.take_profits):
        if not ZERO < target.portion <= HUNDRED:
            problems.append((("take_profit", index, "portion"),
                             f"take_profit #{index + 1} portion must be more than 0% and at most "
                             f"100% (got {fmt(target.portion)}%)"))
    total = sum((t.portion for t in plan.take_profits), ZERO)
    if plan.take_profits and total != HUNDRED:
        problems.append((("take_profit",), f"take-profit portions add up to {fmt(total)}%; "
                                           "they must add up to exactly 100%"))
    return problems


def _cost_basis_needed(plan: TradePlan) -> list[Problem]:
    if plan.entry.type is not EntryType.NONE or plan.entry.cost_basis is not None:
        return []
    relative = [f"take_profit #{i + 1} price" for i, t in enumerate(plan.take_profits)
                if t.price.is_relative]
    if plan.stop and plan.stop.trigger.is_relative:
        relative.append("stop.trigger")
    if not relative:
        return []
    return [(("entry",), f"entry.cost_basis is needed: {relative[0]} is relative, and with entry "
                         "type none relative prices are measured from what you paid; add "
                         "cost_basis or write absolute prices")]


# exits against the entry -------------------------------------------------------------------

def _take_profit_sides(plan: TradePlan, reference: Decimal | None) -> list[Problem]:
    problems: list[Problem] = []
    for index, target in enumerate(plan.take_profits):
        problem = _exit_side(plan, target.price, reference, f"take_profit #{index + 1} price",
                             toward_target=True)
        if problem:
            problems.append((_tp_path(index), problem))
    return problems


def _stop_side(plan: TradePlan, reference: Decimal | None) -> list[Problem]:
    if plan.stop is None:
        return []
    problem = _exit_side(plan, plan.stop.trigger, reference, "stop.trigger", toward_target=False)
    return [(("stop", "trigger"), problem)] if problem else []


def _exit_side(plan: TradePlan, expr: PriceExpr, reference: Decimal | None, label: str, *,
               toward_target: bool) -> str | None:
    """Targets lie beyond the entry in the trade's favour, the stop against it."""
    sign = _direction(plan) if toward_target else -_direction(plan)
    side_word = _words(plan)[0 if toward_target else 1]
    value = _resolved(expr, reference)
    if value is not None and value <= ZERO:
        return f"{label} resolves to {fmt(value)}, which is not a price; it must be above 0"
    if value is not None and reference is not None and (value - reference) * sign <= 0:
        written = fmt(value) if not expr.is_relative else f'"{expr}" ({fmt(value)})'
        return (f"{label} {written} must be {side_word} the entry price {fmt(reference)} "
                f"for a {plan.side} plan")
    if value is None and expr.value * sign <= 0:
        wanted = "positive" if sign > 0 else "negative"
        return (f'{label} "{expr}" must be a {wanted} offset for a {plan.side} plan '
                f"(it sits {side_word} the entry)")
    return None


def _comparable(a: PriceExpr, b: PriceExpr, reference: Decimal | None) -> tuple[Decimal, Decimal] | None:
    """Two prices in a common unit, when their order is known without the fill price."""
    first, second = _resolved(a, reference), _resolved(b, reference)
    if first is not None and second is not None:
        return first, second
    if a.kind is b.kind and a.is_relative:
        return a.value, b.value  # same kind of offset: order is the order of the offsets
    return None


def _take_profit_order(plan: TradePlan, reference: Decimal | None) -> list[Problem]:
    problems: list[Problem] = []
    targets = plan.take_profits
    for index in range(1, len(targets)):
        pair = _comparable(targets[index - 1].price, targets[index].price, reference)
        if pair and (pair[1] - pair[0]) * _direction(plan) <= 0:
            problems.append((_tp_path(index),
                             f"take_profit #{index + 1} price must be further from the entry than "
                             f"take_profit #{index} ({_words(plan)[0]} it): targets go strictly "
                             "away from the entry, nearest first"))
    return problems


def _stop_against_targets(plan: TradePlan, reference: Decimal | None) -> list[Problem]:
    if plan.stop is None or reference is not None or _stop_side(plan, reference):
        return []  # the side checks already cover it (or already said the stop is wrong)
    for index, target in enumerate(plan.take_profits):
        pair = _comparable(plan.stop.trigger, target.price, reference)
        if pair and (pair[1] - pair[0]) * _direction(plan) <= 0:
            return [(("stop", "trigger"),
                     f"stop.trigger must be {_words(plan)[1]} every take-profit for a "
                     f"{plan.side} plan (take_profit #{index + 1} is {target.price})")]
    return []


# stop limit and trailing -------------------------------------------------------------------

def _stop_limit(plan: TradePlan, reference: Decimal | None) -> list[Problem]:
    stop = plan.stop
    if stop is None or stop.limit is None:
        return []
    below = plan.side is Side.BUY  # a sell-side stop (buy plan) fills at or below its trigger
    word = "at or below" if below else "at or above"
    trigger = _resolved(stop.trigger, reference)
    limit = stop.limit.resolve(trigger) if trigger is not None else None
    if stop.limit.kind is PriceKind.ABSOLUTE:
        limit = stop.limit.value
    if limit is not None and limit <= ZERO:
        return [(("stop", "limit"), f"stop.limit resolves to {fmt(limit)}; it must be above 0")]
    if stop.limit.is_relative:
        wrong = stop.limit.value > 0 if below else stop.limit.value < 0
    else:
        wrong = trigger is not None and (limit > trigger if below else limit < trigger)
    if not wrong:
        return []
    example = '"-0.3%"' if below else '"+0.3%"'
    return [(("stop", "limit"), f"stop.limit must be {word} the stop trigger for a {plan.side} "
                                f"plan, e.g. limit: {example}")]


def _stop_distance(plan: TradePlan, reference: Decimal | None) -> Decimal | None:
    """Percent between entry reference and stop trigger, when it is known before the fill."""
    trigger = plan.stop.trigger if plan.stop else None
    if trigger is None:
        return None
    if trigger.kind is PriceKind.PERCENT:
        return abs(trigger.value)
    value = _resolved(trigger, reference)
    if value is None or reference is None:
        return None
    return abs(reference - value) * HUNDRED / reference


def _trailing(plan: TradePlan, reference: Decimal | None) -> list[Problem]:
    trailing = plan.stop.trailing if plan.stop else None
    if trailing is None:
        return []
    path: Path = ("stop", "trailing")
    if trailing <= ZERO:
        return [(path, "stop.trailing must be more than 0%")]
    if trailing * HUNDRED != (trailing * HUNDRED).to_integral_value():
        return [(path, f"stop.trailing {fmt(trailing)}% is not a whole number of basis points "
                       "(0.01%); e.g. 1.25% is fine, 1.255% is not")]
    distance = _stop_distance(plan, reference)
    if distance is not None and trailing > distance:
        floor, past = ("floor", "below") if plan.side is Side.BUY else ("ceiling", "above")
        return [(path, f"stop.trailing {fmt(trailing)}% is wider than the stop's distance from "
                       f"the entry ({distance:.2f}%): the fixed stop-limit price is the {floor} "
                       f"of a trailing stop, so a wider trail would trigger {past} the limit "
                       "price and rest unfilled; use a trail of at most that distance or move "
                       "the stop further away")]
    return []
