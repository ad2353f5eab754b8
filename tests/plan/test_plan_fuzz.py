"""Fuzz: no input, however broken, makes check_text raise or break its contract."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planrunner.diagnostics import Severity
from planrunner.plan import check_text

EXAMPLES = [p.read_text(encoding="utf-8")
            for p in sorted((Path(__file__).resolve().parents[2] / "plans" / "examples").glob("*.yaml"))]
YAML_BITS = list(":-[]{}&*!|>'\"#%@`,?~\n\t ") + ["0x1", ".inf", "yes", "1e9", "+3%", "50%", "---",
                                                   "- ", ": ", "  ", "\ufeff", "\x00", "é"]
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_contract(text: str | bytes) -> None:
    plan, diagnostics = check_text(text, "fuzz.yaml")
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    assert (plan is None) == bool(errors), diagnostics
    for diagnostic in diagnostics:
        assert "internal error" not in diagnostic.message, diagnostic
        assert diagnostic.line >= 0 and diagnostic.column >= 0
        assert diagnostic.render().startswith("fuzz.yaml:")


@st.composite
def mutated_example(draw) -> str:
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        text = draw(_one_mutation(text))
    return text


def _one_mutation(text: str):
    size = max(len(text), 1)
    at = st.integers(0, size - 1)
    return st.one_of(
        st.tuples(at, st.integers(1, 20)).map(lambda a: text[:a[0]] + text[a[0] + a[1]:]),
        st.tuples(at, st.integers(1, 40)).map(lambda a: text[:a[0]] + text[a[0]:a[0] + a[1]] + text[a[0]:]),
        st.tuples(at, st.sampled_from(YAML_BITS)).map(lambda a: text[:a[0]] + a[1] + text[a[0] + 1:]),
        st.tuples(at, st.sampled_from(EXAMPLES), st.integers(0, 400)).map(
            lambda a: text[:a[0]] + a[1][a[2]:a[2] + 120] + text[a[0]:]),
    )


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str):
    assert_contract(text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes):
    assert_contract(data)


@FUZZ
@given(mutated_example())
def test_mutated_examples(text: str):
    assert_contract(text)


@FUZZ
@given(st.lists(st.sampled_from(YAML_BITS + ["version: 1\n", "entry:\n", "stop:\n", "price: "]), max_size=60))
def test_yaml_fragments(parts: list[str]):
    assert_contract("".join(parts))


PRICES = ["7000", "0.00000001", "999999999999999999999999999999", '"0"', '"+0%"', '"-0"', '"-100%"',
          '"-99.99%"', '"+250%"', '"+1"', '"-6999.99"', '"-7000"', "-5", "6900", "7100", '"1e5"']
PERCENTS = ["0%", "0.01%", "1%", "1.005%", "50%", "100%", "100.5%", "25"]


@st.composite
def structured_plan(draw) -> str:
    """Well-formed YAML with every field drawn from edge values: exercises rules.py arithmetic."""
    price = st.sampled_from(PRICES)
    entry_type = draw(st.sampled_from(["market", "limit", "stop_limit", "none"]))
    lines = ["version: 1", "name: fuzz", "symbol: BTCUSDT", f"side: {draw(st.sampled_from(['buy', 'sell']))}",
             "entry:", f"  type: {entry_type}"]
    for field in draw(st.lists(st.sampled_from(["price", "trigger", "limit", "cost_basis"]), unique=True)):
        lines.append(f"  {field}: {draw(price)}")
    lines.append(f"{draw(st.sampled_from(['quantity', 'spend', 'risk']))}: {draw(st.sampled_from(['0.01', '0', '5']))}")
    targets = draw(st.integers(0, 3))
    if targets:
        lines.append("take_profit:")
        for _ in range(targets):
            lines += [f"  - price: {draw(price)}", f"    portion: {draw(st.sampled_from(PERCENTS))}"]
    if draw(st.booleans()):
        lines += ["stop:", f"  trigger: {draw(price)}", f"  type: {draw(st.sampled_from(['limit', 'market']))}"]
        if draw(st.booleans()):
            lines.append(f"  limit: {draw(price)}")
        if draw(st.booleans()):
            lines.append(f'  trailing: "{draw(st.sampled_from(PERCENTS))}"')
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structured_plan())
def test_structured_edge_values(text: str):
    assert_contract(text)
