"""Loader: Decimal-exact numbers, marks per path, refused input, and the model builder's values."""

from __future__ import annotations

import dataclasses
import os
from decimal import Decimal
from pathlib import Path

import pytest

from planrunner.errors import PlanError
from planrunner.plan import check_file, check_text, load_plan
from planrunner.plan.load import MAX_BYTES, load_text
from planrunner.plan.model import (EntryType, PriceExpr, PriceKind, Side, SizeKind, StopType,
                                   parse_duration, parse_percent, parse_price)

PLAN = """\
version: 1
name: exact
symbol: BTCUSDT
side: sell
entry:
  type: limit
  price: 7200.10
  expire_after: 90m
quantity: 0.1
take_profit:
  - price: "-0.6%"
    portion: 33.34%
  - price: "-100.5"
    portion: 66.66%
stop:
  trigger: "+1%"
  limit: 7300.3
  trailing: "0.75%"
"""


def floats_in(value: object) -> list[object]:
    if isinstance(value, float):
        return [value]
    if dataclasses.is_dataclass(value):
        return [f for field in dataclasses.fields(value) for f in floats_in(getattr(value, field.name))]
    if isinstance(value, (tuple, list)):
        return [f for item in value for f in floats_in(item)]
    return []


def test_numbers_are_exact_decimals_end_to_end():
    plan, diagnostics = check_text(PLAN, "p.yaml")
    assert diagnostics == []
    assert plan.size.kind is SizeKind.QUANTITY
    assert plan.size.amount == Decimal("0.1") and type(plan.size.amount) is Decimal
    assert plan.size.amount * 3 == Decimal("0.3")  # a float 0.1 would give 0.30000000000000004
    assert plan.entry.price == PriceExpr(PriceKind.ABSOLUTE, Decimal("7200.10"))
    assert floats_in(plan) == []


def test_builder_values():
    plan, _ = check_text(PLAN, "p.yaml")
    assert plan.side is Side.SELL and plan.exchange == "paper"
    assert plan.entry.type is EntryType.LIMIT and plan.entry.time_in_force == "GTC"
    assert plan.entry.expire_after_s == 90 * 60
    assert [t.portion for t in plan.take_profits] == [Decimal("33.34"), Decimal("66.66")]
    assert plan.take_profits[0].price == PriceExpr(PriceKind.PERCENT, Decimal("-0.6"))
    assert plan.take_profits[1].price == PriceExpr(PriceKind.OFFSET, Decimal("-100.5"))
    assert plan.stop.type is StopType.LIMIT and plan.stop.trailing == Decimal("0.75")
    assert plan.stop.limit == PriceExpr(PriceKind.ABSOLUTE, Decimal("7300.3"))


@pytest.mark.parametrize(("text", "expected"), [
    ("68500", PriceExpr(PriceKind.ABSOLUTE, Decimal("68500"))),
    ("+3%", PriceExpr(PriceKind.PERCENT, Decimal("3"))),
    ("-2.5%", PriceExpr(PriceKind.PERCENT, Decimal("-2.5"))),
    ("+1500", PriceExpr(PriceKind.OFFSET, Decimal("1500"))),
    ("-300", PriceExpr(PriceKind.OFFSET, Decimal("-300"))),
    (Decimal("0.0041"), PriceExpr(PriceKind.ABSOLUTE, Decimal("0.0041"))),
    (7, PriceExpr(PriceKind.ABSOLUTE, Decimal("7"))),
])
def test_parse_price(text: object, expected: PriceExpr):
    assert parse_price(text) == expected


def test_parse_percent_and_duration():
    assert parse_percent("50%") == Decimal("50")
    assert parse_percent("33.34%") == Decimal("33.34")
    assert [parse_duration(d) for d in ("45s", "30m", "12h", "2d")] == [45, 1800, 43200, 172800]


def test_marks_point_at_each_value_and_key():
    doc, diagnostics = load_text(PLAN, "p.yaml")
    assert diagnostics == []
    assert doc.marks[("take_profit", 1, "price")] == (13, 12)
    assert doc.marks[("stop", "trailing")] == (18, 13)
    assert doc.key_marks[("entry", "expire_after")] == (8, 3)


@pytest.mark.parametrize(("scalar", "expected"), [
    ("0.1", Decimal("0.1")), ("7195.24", Decimal("7195.24")), ("1.5e-3", Decimal("0.0015")),
    (".5", Decimal("0.5")), ("12", 12), ('"0.1"', "0.1"), ("'12'", "12"), ("-3", "-3"),
    ("+0.5", "+0.5"), ("~", None), ("true", True), ("2020-01-01", "2020-01-01"), ("yes", "yes"),
])
def test_scalar_construction(scalar: str, expected: object):
    doc, _ = load_text(f"v: {scalar}\n", "p.yaml")
    assert doc.data["v"] == expected
    assert type(doc.data["v"]) is type(expected)


def test_bom_is_accepted():
    plan, diagnostics = check_text("\ufeff" + PLAN, "p.yaml")
    assert diagnostics == [] and plan is not None


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_bytes_input_is_decoded_as_utf8(wrap):
    raw = wrap(PLAN.replace("name: exact", "name: exact  # café").encode())
    plan, diagnostics = check_text(raw, "p.yaml")
    assert diagnostics == [] and plan is not None


@pytest.mark.parametrize(("raw", "fragment", "mark"), [
    (b"version: 1\nname: \xff\n", "not UTF-8", (2, 7)),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file", (0, 0)),
    ("version: 1\x00", "binary file", (0, 0)),
    (b"#" * (MAX_BYTES + 1), "limited to 256 KiB", (0, 0)),
    ("[" * 5000 + "]" * 5000, "nested more than", (1, 33)),
])
def test_refused_input(raw: str | bytes, fragment: str, mark: tuple[int, int]):
    plan, diagnostics = check_text(raw, "p.yaml")
    assert plan is None and len(diagnostics) == 1
    assert fragment in diagnostics[0].message
    assert (diagnostics[0].line, diagnostics[0].column) == mark


def test_alias_bomb_is_refused_without_expansion():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(20))
    plan, diagnostics = check_text(bomb, "p.yaml")
    assert plan is None
    assert [(d.line, d.column) for d in diagnostics] == [(1, 4)]
    assert "anchors and aliases" in diagnostics[0].message


def test_check_file_reads_a_valid_plan(tmp_path: Path):
    path = tmp_path / "ok.yaml"
    path.write_text(PLAN, encoding="utf-8")
    plan, diagnostics = check_file(str(path))
    assert diagnostics == [] and plan.name == "exact"
    assert load_plan(str(path)) == plan


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda d: d / "missing.yaml", "no such file"),
    (lambda d: d, "this is a directory"),
    (lambda d: _write(d / "big.yaml", b"# " * MAX_BYTES), "larger than 256 KiB"),
    (lambda d: _write(d / "bin.yaml", bytes(range(256))), "binary file"),
    (lambda d: _write(d / "latin1.yaml", "name: caf\xe9\n".encode("latin-1")), "not UTF-8"),
])
def test_check_file_turns_unreadable_input_into_a_diagnostic(tmp_path: Path, make, fragment: str):
    path = str(make(tmp_path))
    plan, diagnostics = check_file(path)
    assert plan is None and len(diagnostics) == 1
    assert fragment in diagnostics[0].message and diagnostics[0].file == path


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_check_file_permission_denied(tmp_path: Path):
    path = _write(tmp_path / "secret.yaml", PLAN.encode())
    path.chmod(0)
    plan, diagnostics = check_file(str(path))
    assert plan is None and "permission denied" in diagnostics[0].message


def test_load_plan_raises_plan_error_with_every_diagnostic(tmp_path: Path):
    path = _write(tmp_path / "bad.yaml", PLAN.replace("version: 1", "version: 2")
                  .replace("side: sell", "side: short").encode())
    with pytest.raises(PlanError) as caught:
        load_plan(str(path))
    assert len(caught.value.diagnostics) == 2
    assert f"{path}:1:10: error: version must be 1" in str(caught.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
