"""Table tests: every cross-field rule (plan/rules.py), with its message fragment and line:column."""

from __future__ import annotations

import pytest

from planrunner.plan import check_text

LIMIT_BUY = """\
version: 1
name: t-cross
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

MARKET_BUY = """\
version: 1
name: t-market
symbol: BTCUSDT
side: buy
entry:
  type: market
quantity: 0.01
take_profit:
  - price: "+1%"
    portion: 50%
  - price: "+2%"
    portion: 50%
stop:
  trigger: "-1%"
  limit: "-0.2%"
"""


def edit(base: str, *pairs: str) -> str:
    text = base
    for old, new in zip(pairs[::2], pairs[1::2]):
        assert text.count(old) == 1, f"{old!r} must occur exactly once"
        text = text.replace(old, new)
    return text


def limit(*pairs: str) -> str:
    return edit(LIMIT_BUY, *pairs)


def market(*pairs: str) -> str:
    return edit(MARKET_BUY, *pairs)


NONE_ENTRY = ("type: limit\n  price: 7000", "type: none\n  cost_basis: 7000")

# id, text, expected message fragment, line, column
CROSS_CASES = [
    # entry reference known (limit 7000)
    ("tp-below-entry", limit("  - price: 7100", "  - price: 6990"),
     "take_profit #1 price 6990 must be above the entry price 7000 for a buy plan", 10, 12),
    ("tp-equal-entry", limit("  - price: 7100", "  - price: 7000"), "must be above the entry price", 10, 12),
    ("stop-above-entry", limit("trigger: 6900", "trigger: 7010", "limit: 6890", "limit: 7005"),
     "stop.trigger 7010 must be below the entry price 7000", 15, 12),
    ("stop-percent-positive", limit("trigger: 6900", 'trigger: "+1%"', "limit: 6890", 'limit: "-0.1%"'),
     'stop.trigger "+1%" (7070) must be below the entry price 7000', 15, 12),
    ("stop-limit-above-trigger", limit("limit: 6890", "limit: 6910"),
     "stop.limit must be at or below the stop trigger for a buy plan", 16, 10),
    ("stop-limit-positive-offset", limit("limit: 6890", 'limit: "+0.1%"'),
     'stop.limit must be at or below the stop trigger for a buy plan, e.g. limit: "-0.3%"', 16, 10),
    ("tp-not-increasing", limit("  - price: 7200", "  - price: 7050"),
     "take_profit #2 price must be further from the entry than take_profit #1", 12, 12),
    ("tp-equal-prices", limit("  - price: 7200", "  - price: 7100"), "must be further from the entry", 12, 12),
    ("tp-percent-resolves-negative", limit("  - price: 7200", '  - price: "-150%"'),
     "take_profit #2 price resolves to -3500, which is not a price", 12, 12),
    ("stop-limit-resolves-negative", limit("limit: 6890", 'limit: "-7000"'),
     "stop.limit resolves to -100; it must be above 0", 16, 10),
    # portions
    ("portions-sum", limit("    portion: 50%\n  - price: 7200", "    portion: 40%\n  - price: 7200"),
     "take-profit portions add up to 90%; they must add up to exactly 100%", 10, 3),
    ("portion-zero", limit("    portion: 50%\n  - price: 7200", "    portion: 0%\n  - price: 7200"),
     "take_profit #1 portion must be more than 0% and at most 100%", 11, 14),
    ("portion-over-100", limit("    portion: 50%\n  - price: 7200", "    portion: 150%\n  - price: 7200"),
     "take_profit #1 portion must be more than 0% and at most 100% (got 150%)", 11, 14),
    ("portions-sum-decimal", limit("    portion: 50%\n  - price: 7200", "    portion: 49.99%\n  - price: 7200"),
     "add up to 99.99%", 10, 3),
    # sizes
    ("two-sizes", limit("quantity: 0.01", "quantity: 0.01\nspend: 100"),
     "write only one of quantity, spend or risk (this plan has quantity and spend); remove spend", 9, 8),
    ("three-sizes", limit("quantity: 0.01", "quantity: 0.01\nspend: 100\nrisk: 5"), "remove risk", 10, 7),
    ("no-size", limit("quantity: 0.01\n", ""), "the plan needs a size: add exactly one of quantity, spend or risk", 1, 1),
    ("risk-needs-stop", limit("quantity: 0.01", "risk: 5", "stop:\n  trigger: 6900\n  limit: 6890\n", ""),
     "risk needs a stop", 8, 7),
    ("no-exit", limit("take_profit:\n  - price: 7100\n    portion: 50%\n  - price: 7200\n    portion: 50%\n", "",
                      "stop:\n  trigger: 6900\n  limit: 6890\n", ""),
     "the plan needs a way out: add take_profit, stop or both", 1, 1),
    ("spend-zero", limit("quantity: 0.01", 'spend: "0"'), "spend must be greater than 0", 8, 8),
    ("quantity-zero-string", limit("quantity: 0.01", 'quantity: "0.0"'), "quantity must be greater than 0", 8, 11),
    ("entry-price-zero-string", limit("price: 7000", 'price: "0"'), "entry.price must be greater than 0", 7, 10),
    ("none-with-spend", limit(*NONE_ENTRY, "quantity: 0.01", "spend: 100"),
     "entry type none protects coins already held, so size it with quantity; replace spend", 8, 8),
    ("none-without-size", limit(*NONE_ENTRY, "quantity: 0.01\n", ""), "entry type none needs quantity", 1, 1),
    ("none-needs-cost-basis", limit("type: limit\n  price: 7000", "type: none", "  - price: 7100", '  - price: "+1%"'),
     "entry.cost_basis is needed: take_profit #1 price is relative", 6, 3),
    ("none-stop-vs-cost-basis", limit(*NONE_ENTRY, "trigger: 6900", "trigger: 7050", "limit: 6890", "limit: 7040"),
     "stop.trigger 7050 must be below the entry price 7000", 15, 12),
    ("none-cost-basis-zero", limit("type: limit\n  price: 7000", 'type: none\n  cost_basis: "0"'),
     "entry.cost_basis must be greater than 0", 7, 15),
    ("expire-after-zero", limit("  price: 7000", "  price: 7000\n  expire_after: 0h"),
     "entry.expire_after must be longer than 0", 8, 17),
    # market entry: only signs and absolute-vs-absolute
    ("market-tp-negative", market('  - price: "+1%"', '  - price: "-1%"'),
     'take_profit #1 price "-1%" must be a positive offset for a buy plan', 9, 12),
    ("market-stop-positive", market('trigger: "-1%"', 'trigger: "+1%"'),
     'stop.trigger "+1%" must be a negative offset for a buy plan', 14, 12),
    ("market-tp-order-relative", market('  - price: "+2%"', '  - price: "+0.5%"'),
     "take_profit #2 price must be further from the entry", 11, 12),
    ("market-stop-above-tps", market('  - price: "+1%"', "  - price: 7300", '  - price: "+2%"', "  - price: 7400",
                                     'trigger: "-1%"', "trigger: 7350"),
     "stop.trigger must be below every take-profit for a buy plan (take_profit #1 is 7300)", 14, 12),
    # stop_limit entry: reference is the limit after the trigger
    ("stop-limit-entry-reference", limit("type: limit\n  price: 7000", 'type: stop_limit\n  trigger: 7000\n  limit: "+2%"'),
     "take_profit #1 price 7100 must be above the entry price 7140", 11, 12),
    ("stop-limit-entry-limit-negative", limit("type: limit\n  price: 7000", 'type: stop_limit\n  trigger: 7000\n  limit: "-8000"'),
     "entry.limit resolves to a price at or below 0", 8, 10),
    # side sell: all mirrored
    ("sell-tp-above-entry", limit("side: buy", "side: sell"),
     "take_profit #1 price 7100 must be below the entry price 7000 for a sell plan", 10, 12),
    ("sell-stop-below-entry", limit("side: buy", "side: sell", "  - price: 7100", "  - price: 6900",
                                    "  - price: 7200", "  - price: 6800"),
     "stop.trigger 6900 must be above the entry price 7000 for a sell plan", 15, 12),
    ("sell-stop-limit-below-trigger", limit("side: buy", "side: sell", "  - price: 7100", "  - price: 6900",
                                            "  - price: 7200", "  - price: 6800", "trigger: 6900", "trigger: 7100",
                                            "limit: 6890", "limit: 7090"),
     "stop.limit must be at or above the stop trigger for a sell plan", 16, 10),
    ("sell-tp-order", limit("side: buy", "side: sell", "  - price: 7100", "  - price: 6800",
                            "  - price: 7200", "  - price: 6900", "trigger: 6900", "trigger: 7100", "limit: 6890", "limit: 7110"),
     "take_profit #2 price must be further from the entry than take_profit #1 (below it)", 12, 12),
    # trailing
    ("trailing-wider-than-stop", limit("limit: 6890", 'limit: 6890\n  trailing: "2%"'),
     "stop.trailing 2% is wider than the stop's distance from the entry (1.43%): the fixed stop-limit "
     "price is the floor of a trailing stop, so a wider trail would trigger below the limit price "
     "and rest unfilled", 17, 13),
    ("trailing-wider-percent-stop", market('limit: "-0.2%"', 'limit: "-0.2%"\n  trailing: "1.5%"'),
     "stop.trailing 1.5% is wider than the stop's distance from the entry (1.00%)", 16, 13),
    ("trailing-sell-ceiling", limit("side: buy", "side: sell", "  - price: 7100", "  - price: 6900",
                                    "  - price: 7200", "  - price: 6800", "trigger: 6900", 'trigger: "+1%"',
                                    "limit: 6890", 'limit: "+0.1%"\n  trailing: "3%"'),
     "the ceiling of a trailing stop, so a wider trail would trigger above the limit price", 17, 13),
    ("trailing-bips", limit("limit: 6890", 'limit: 6890\n  trailing: "1.255%"'),
     "stop.trailing 1.255% is not a whole number of basis points", 17, 13),
    ("trailing-zero", limit("limit: 6890", 'limit: 6890\n  trailing: "0%"'), "stop.trailing must be more than 0%", 17, 13),
]


@pytest.mark.parametrize(("text", "fragment", "line", "column"),
                         [case[1:] for case in CROSS_CASES], ids=[case[0] for case in CROSS_CASES])
def test_cross_field_rule_is_reported_at_its_field(text: str, fragment: str, line: int, column: int):
    plan, diagnostics = check_text(text, "p.yaml")
    assert plan is None
    found = [(d.line, d.column, d.message) for d in diagnostics]
    assert any(fragment in message and (l, c) == (line, column) for l, c, message in found), found


@pytest.mark.parametrize("text", [LIMIT_BUY, MARKET_BUY], ids=["limit", "market"])
def test_base_plans_are_valid(text: str):
    plan, diagnostics = check_text(text, "p.yaml")
    assert diagnostics == []
    assert plan is not None


VALID_EDGES = [
    ("trailing-equal-to-stop-distance", market('limit: "-0.2%"', 'limit: "-0.2%"\n  trailing: "1%"')),
    ("trailing-whole-bips", limit("limit: 6890", 'limit: 6890\n  trailing: "1.25%"')),
    ("stop-limit-equal-trigger", limit("limit: 6890", "limit: 6900")),
    ("single-target-100", limit("    portion: 50%\n  - price: 7200\n    portion: 50%", "    portion: 100%")),
    ("thirds", limit("    portion: 50%\n  - price: 7200\n    portion: 50%",
                     "    portion: 33.34%\n  - price: 7200\n    portion: 33.33%\n  - price: 7300\n    portion: 33.33%")),
    ("market-mixed-kinds-unknown", market('  - price: "+2%"', '  - price: "+150"')),
    ("stop-only", limit("take_profit:\n  - price: 7100\n    portion: 50%\n  - price: 7200\n    portion: 50%\n", "")),
    ("tp-only", limit("stop:\n  trigger: 6900\n  limit: 6890\n", "")),
    ("none-absolute-without-cost-basis", limit("type: limit\n  price: 7000", "type: none")),
    ("unquoted-negative-offset", limit("limit: 6890", "limit: -10")),
]


@pytest.mark.parametrize("text", [case[1] for case in VALID_EDGES], ids=[case[0] for case in VALID_EDGES])
def test_edge_cases_that_are_valid(text: str):
    plan, diagnostics = check_text(text, "p.yaml")
    assert [d.render() for d in diagnostics] == []
    assert plan is not None


def test_presence_rules_run_even_when_the_schema_fails():
    text = limit("version: 1", "version: 9", "quantity: 0.01", "quantity: 0.01\nspend: 5")
    messages = [d.message for d in check_text(text, "p.yaml")[1]]
    assert any("version must be 1" in m for m in messages)
    assert any("write only one of quantity, spend or risk" in m for m in messages)


def test_a_wrong_sided_stop_is_reported_once():
    text = market('trigger: "-1%"', 'trigger: "+1%"')
    messages = [d.message for d in check_text(text, "p.yaml")[1]]
    assert len(messages) == 1 and "must be a negative offset" in messages[0]
