"""Table tests: every loader and schema rule, with its message fragment and line:column."""

from __future__ import annotations

import pytest

from planrunner.plan import check_text

BASE = """\
version: 1
name: t-plan
symbol: BTCUSDT
side: buy
entry:
  type: limit
  price: 7000
quantity: 0.01
take_profit:
  - price: 7100
    portion: 50%
  - price: 7200
    portion: 50%
stop:
  trigger: 6900
  limit: 6890
"""

NINE_TARGETS = "take_profit:\n" + "".join(
    f"  - price: {7100 + i}\n    portion: 10%\n" for i in range(9))


def mutate(old: str, new: str) -> str:
    assert BASE.count(old) == 1, f"{old!r} must occur exactly once in BASE"
    return BASE.replace(old, new)


def block(start: str, end: str, new: str) -> str:
    """Replace the lines from `start` up to (not including) `end`."""
    head, rest = BASE.split(start, 1)
    tail = rest.split(end, 1)[1]
    return head + new + end + tail


# id, text, expected message fragment, line, column
SHAPE_CASES = [
    ("version", mutate("version: 1", "version: 2"), "version must be 1", 1, 10),
    ("version-decimal", mutate("version: 1", "version: 1.5"), "version must be a whole number", 1, 10),
    ("name-pattern", mutate("name: t-plan", "name: T_Plan"), "name must be lowercase letters", 2, 7),
    ("name-newline", mutate("name: t-plan", 'name: "t-plan\\n"'), "name must be lowercase", 2, 7),
    ("symbol-slash", mutate("symbol: BTCUSDT", "symbol: BTC/USDT"), "write BTCUSDT", 3, 9),
    ("symbol-lower", mutate("symbol: BTCUSDT", "symbol: btcusdt"), "write BTCUSDT", 3, 9),
    ("symbol-dash", mutate("symbol: BTCUSDT", "symbol: BTC-USDT"), "write BTCUSDT", 3, 9),
    ("side-enum", mutate("side: buy", "side: long"), "side must be one of buy, sell", 4, 7),
    ("side-case", mutate("side: buy", "side: Buy"), "did you mean 'buy'?", 4, 7),
    ("exchange-enum", mutate("side: buy", "side: buy\nexchange: binanse"),
     "did you mean 'binance'?", 5, 11),
    ("unknown-top-key", mutate("quantity: 0.01", "quantity: 0.01\nstpo: 1"),
     "unknown key 'stpo'; did you mean 'stop'?", 9, 1),
    ("unknown-no-close-match", mutate("quantity: 0.01", "quantity: 0.01\nzzz: 1"),
     "unknown key 'zzz'; allowed here:", 9, 1),
    ("unknown-key-shorthand", mutate("  price: 7000", "  price: 7000\n  tif: GTC"),
     "unknown key 'tif' in entry; did you mean 'time_in_force'?", 8, 3),
    ("entry-shorthand", block("entry:\n", "quantity", "entry: limit\n"), "write it as: entry: {type: limit}", 5, 8),
    ("stop-shorthand", mutate("stop:\n  trigger: 6900\n  limit: 6890", 'stop: "-2%"'),
     'write it as: stop: {trigger: "-2%", limit: "-0.3%"}', 14, 7),
    ("unknown-entry-key", mutate("  price: 7000", "  price: 7000\n  prise: 7000"),
     "unknown key 'prise' in entry; did you mean 'price'?", 8, 3),
    ("unknown-target-key", mutate("    portion: 50%\n  - price: 7200", "    portion: 50%\n    prce: 1\n  - price: 7200"),
     "unknown key 'prce' in take_profit #1; did you mean 'price'?", 12, 5),
    ("duplicate-key", mutate("side: buy", "side: buy\nside: sell"), "duplicate key 'side' (first written at line 4)", 5, 1),
    ("missing-required", mutate("symbol: BTCUSDT\n", ""), "the plan is missing the required key 'symbol'", 1, 1),
    ("entry-not-mapping", block("entry:\n", "quantity", "entry: limit\n"), "entry must be a mapping", 5, 8),
    ("entry-type-enum", mutate("type: limit", "type: oco"), "entry.type must be one of market, limit", 6, 9),
    ("limit-needs-price", mutate("  price: 7000\n", ""), "entry type limit needs 'price'", 5, 1),
    ("market-no-price", mutate("type: limit", "type: market"), "entry.price is not used with entry type market", 7, 3),
    ("limit-no-trigger", mutate("  price: 7000", "  price: 7000\n  trigger: 7000"),
     "entry.trigger is not used with entry type limit", 8, 3),
    ("stop-limit-needs-trigger", mutate("type: limit\n  price: 7000", "type: stop_limit\n  limit: 7000"),
     "entry type stop_limit needs 'trigger'", 5, 1),
    ("none-no-tif", mutate("type: limit\n  price: 7000", "type: none\n  time_in_force: GTC"),
     "entry.time_in_force is not used with entry type none", 7, 3),
    ("entry-price-relative", mutate("price: 7000", 'price: "+1%"'), "absolute positive price", 7, 10),
    ("entry-price-negative", mutate("price: 7000", "price: -5"), "absolute positive price", 7, 10),
    ("tif-enum", mutate("  price: 7000", "  price: 7000\n  time_in_force: GTD"),
     "entry.time_in_force must be one of GTC, IOC, FOK", 8, 18),
    ("expire-after-pattern", mutate("  price: 7000", "  price: 7000\n  expire_after: 12x"),
     "a duration such as 90s", 8, 17),
    ("quantity-text", mutate("quantity: 0.01", "quantity: lots"), "quantity must be a positive number", 8, 11),
    ("quantity-bool", mutate("quantity: 0.01", "quantity: true"), "quantity must be a positive number", 8, 11),
    ("quantity-zero", mutate("quantity: 0.01", "quantity: 0"), "quantity must be a positive number", 8, 11),
    ("quantity-inf", mutate("quantity: 0.01", "quantity: .inf"), "infinity and not-a-number are not allowed", 8, 11),
    ("quantity-nan", mutate("quantity: 0.01", "quantity: .NaN"), "infinity and not-a-number are not allowed", 8, 11),
    ("quantity-hex", mutate("quantity: 0.01", "quantity: 0x1F"), "hexadecimal, octal and binary", 8, 11),
    ("quantity-octal", mutate("quantity: 0.01", "quantity: 010"), "without leading zeros", 8, 11),
    ("quantity-underscore", mutate("quantity: 0.01", "quantity: 1_000"), "without underscores", 8, 11),
    ("quantity-yaml11-bool", mutate("quantity: 0.01", "quantity: yes"), "is a YAML 1.1 boolean", 8, 11),
    ("quantity-sexagesimal", mutate("quantity: 0.01", "quantity: 1:30"), "base-60", 8, 11),
    ("quantity-huge", mutate("quantity: 0.01", "quantity: 1e99"), "out of range", 8, 11),
    ("quantity-signed", mutate("quantity: 0.01", "quantity: +1"), "a signed number is an offset", 8, 11),
    ("price-text", mutate("  - price: 7100", "  - price: cheap"), "take_profit #1 price must be a positive price", 10, 12),
    ("price-unicode-digits", mutate("  - price: 7100", '  - price: "+\u0663%"'), "must be a positive price", 10, 12),
    ("portion-bare-number", mutate("    portion: 50%\n  - price: 7200", "    portion: 50\n  - price: 7200"),
     "write portion as a percentage, e.g. 50%", 11, 14),
    ("portion-pattern", mutate("    portion: 50%\n  - price: 7200", "    portion: half\n  - price: 7200"),
     "take_profit #1 portion must be a percent string", 11, 14),
    ("targets-empty", block("take_profit:\n", "stop:", "take_profit: []\n"), "needs at least one target", 9, 14),
    ("targets-nine", block("take_profit:\n", "stop:", NINE_TARGETS), "has 9 targets; at most 8", 10, 3),
    ("targets-not-list", block("take_profit:\n", "stop:", "take_profit: 7100\n"), "take_profit must be a list", 9, 14),
    ("stop-needs-limit", mutate("  limit: 6890\n", ""), 'stop needs a limit price with type limit, e.g. limit: "-0.3%"', 14, 1),
    ("stop-market-no-limit", mutate("  limit: 6890", "  limit: 6890\n  type: market"),
     "stop.limit must be omitted with stop type market", 16, 3),
    ("stop-type-enum", mutate("  limit: 6890", "  limit: 6890\n  type: stop"), "stop.type must be one of limit, market", 17, 9),
    ("trailing-pattern", mutate("  limit: 6890", "  limit: 6890\n  trailing: 1"), 'a percent string such as "1%"', 17, 13),
    ("alias", mutate("price: 7000", "price: &p 7000"), "anchors and aliases", 7, 10),
    ("alias-use", mutate("  - price: 7100", "  - price: *p"), "anchors and aliases", 10, 12),
    ("explicit-tag", mutate("quantity: 0.01", "quantity: !!float 0.01"), "explicit YAML tags such as '!!float'", 8, 11),
    ("local-tag", mutate("quantity: 0.01", "quantity: !money 0.01"), "explicit YAML tags", 8, 11),
    ("bad-yaml", mutate("side: buy", "side: [buy"), "invalid YAML", 5, 6),
    ("two-documents", BASE + "---\nversion: 1\n", "more than one YAML document", 17, 1),
    ("complex-key", mutate("side: buy", "side: buy\n? [a, b]\n: 1"), "a key must be a plain word", 5, 3),
    ("top-level-list", "- version: 1\n", "the top level of a plan must be a mapping", 1, 1),
    ("empty", "", "the file is empty", 1, 1),
    ("comment-only", "# nothing here\n", "the file is empty", 1, 1),
    ("control-char", mutate("name: t-plan", "name: t-plan\x07"), "character YAML does not allow", 2, 13),
]


@pytest.mark.parametrize(("text", "fragment", "line", "column"),
                         [case[1:] for case in SHAPE_CASES], ids=[case[0] for case in SHAPE_CASES])
def test_shape_rule_is_reported_at_its_field(text: str, fragment: str, line: int, column: int):
    plan, diagnostics = check_text(text, "p.yaml")
    assert plan is None
    found = [(d.line, d.column, d.message) for d in diagnostics]
    assert any(fragment in message and (l, c) == (line, column) for l, c, message in found), found


def test_base_plan_is_valid():
    plan, diagnostics = check_text(BASE, "p.yaml")
    assert diagnostics == []
    assert plan is not None and plan.name == "t-plan"


def test_all_problems_are_reported_together():
    text = mutate("version: 1", "version: 3").replace("side: buy", "side: long").replace(
        "quantity: 0.01", "quantity: 0.01\nqty: 2")
    _, diagnostics = check_text(text, "p.yaml")
    messages = " | ".join(d.message for d in diagnostics)
    assert "version must be 1" in messages
    assert "side must be one of" in messages
    assert "unknown key 'qty'" in messages


def test_rendered_form_is_file_line_column_error_message():
    _, diagnostics = check_text(mutate("version: 1", "version: 2"), "plans/x.yaml")
    assert diagnostics[0].render() == "plans/x.yaml:1:10: error: version must be 1 (got 2)"


def test_messages_never_leak_raw_jsonschema_wording():
    texts = [case[1] for case in SHAPE_CASES]
    for text in texts:
        for diagnostic in check_text(text, "p.yaml")[1]:
            assert "is not valid under any of the given schemas" not in diagnostic.message
            assert "Additional properties" not in diagnostic.message
            assert "does not match" not in diagnostic.message
