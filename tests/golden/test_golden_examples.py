"""Golden files: every plans/examples/*.yaml rendered (text and JSON) against the paper market
with the fixed namespace "test00". Regenerate with UPDATE_GOLDEN=1 and review the diff.

An example that does not compile pins its CompileError message instead, so a change in the
compiler's verdict shows up here too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "plans" / "examples"
GOLDEN = Path(__file__).resolve().parent
NAMESPACE = "test00"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def _render(example: Path) -> tuple[str, str]:
    """(text, json) as `planrunner plan` would print them for this example."""
    from planrunner.compile import compile_plan
    from planrunner.errors import CompileError
    from planrunner.exchanges.factory import paper_capabilities, paper_market_context
    from planrunner.plan import load_plan
    from planrunner.render import render_json, render_text

    plan = load_plan(str(example))
    try:
        market = paper_market_context(plan.symbol)
        action_plan = compile_plan(plan, market, paper_capabilities(), NAMESPACE)
    except CompileError as exc:
        return f"CompileError: {exc}\n", _dump({"compile_error": str(exc)})
    return render_text(action_plan, color=False), _dump(render_json(action_plan))


def _dump(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _check(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{path.name} is missing: run UPDATE_GOLDEN=1 pytest tests/golden, "
                    "review and commit it")
    assert actual == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if the change is intended: UPDATE_GOLDEN=1 pytest tests/golden")


def test_there_are_examples_to_pin():
    assert len(_examples()) >= 8


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.stem)
def test_example_matches_its_golden_files(example):
    text, payload = _render(example)
    _check(GOLDEN / f"{example.stem}.txt", text)
    _check(GOLDEN / f"{example.stem}.json", payload)


def test_cli_prints_the_golden_text_apart_from_its_namespace(tmp_path):
    """`planrunner plan` shows exactly what render_text produced for the goldens."""
    import re
    import shutil

    from click.testing import CliRunner

    from planrunner.cli import main

    example = EXAMPLES / "quickstart.yaml"
    text, _ = _render(example)
    assert not text.startswith("CompileError"), text
    copy = tmp_path / example.name  # away from any state file a local apply left behind
    shutil.copyfile(example, copy)
    result = CliRunner().invoke(main, ["plan", str(copy)])
    shown, _, note = result.stdout.rpartition("\n\nNote: ")
    namespace = re.search(r"namespace ([a-z2-7]{6})", note).group(1)
    assert shown.replace(namespace, NAMESPACE) + "\n" == text


def test_no_golden_file_without_its_example():
    stems = {p.stem for p in _examples()}
    orphans = sorted(p.name for p in GOLDEN.iterdir()
                     if p.suffix in (".txt", ".json") and p.stem not in stems)
    assert orphans == [], "delete golden files whose example is gone"


def test_an_example_that_does_not_compile_pins_its_error(tmp_path):
    source = EXAMPLES / "quickstart.yaml"
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(source.read_text("utf-8").replace("quantity: 0.01 ", "quantity: 0.00002 "),
                    encoding="utf-8")
    text, payload = _render(tiny)
    assert text.startswith("CompileError: ") and "notional" in text
    assert json.loads(payload) == {"compile_error": text.removeprefix("CompileError: ").strip()}
