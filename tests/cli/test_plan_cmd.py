"""`planrunner plan`: load, compile against the paper market, render, save; every failure is a
clear message with exit 1, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from planrunner.cli import main


GOOD_PLAN = """\
version: 1
name: btc-cli
exchange: paper
symbol: BTCUSDT
side: buy
entry:
  type: limit
  price: 7000
quantity: 0.002
take_profit:
  - price: "+3%"
    portion: 50%
  - price: 7400
    portion: 50%
stop:
  trigger: "-2%"
  limit: "-0.3%"
"""

NAMESPACE = re.compile(r"namespace ([a-z2-7]{6})")


def _plan_file(tmp_path, text=GOOD_PLAN, name="btc.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _run(*args):
    return CliRunner().invoke(main, ["plan", *args])


def _assert_clean_failure(result, *fragments):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in result.stderr


def test_text_plan_lists_orders_summary_risk_and_namespace_note(tmp_path):
    result = _run(_plan_file(tmp_path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "exchange paper, symbol BTCUSDT, side buy" in out
    assert re.search(r"^Plan: \d+ orders to place, 0 to cancel\.$", out, re.MULTILINE)
    assert re.search(r"^Risk: worst case -", out, re.MULTILINE)
    namespace = NAMESPACE.search(out.splitlines()[-1]).group(1)
    assert "fixed at the first apply" in out
    assert f"-{namespace}-" in out  # client ids carry the namespace
    assert "\x1b[" not in out  # not a terminal: no colour


def test_each_run_without_state_picks_a_new_namespace(tmp_path):
    path = _plan_file(tmp_path)
    first, second = (NAMESPACE.search(_run(path).stdout.splitlines()[-1]).group(1)
                     for _ in range(2))
    assert first != second


def test_json_format_is_pure_json_on_stdout(tmp_path):
    result = _run(_plan_file(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["format_version"] == 1
    assert payload["plan"]["symbol"] == "BTCUSDT"
    assert payload["summary"]["to_place"] > 0
    assert payload["plan"]["namespace"] in result.stderr


@pytest.mark.parametrize("flags, code", [([], 0), (["--detailed-exitcode"], 2)])
def test_detailed_exitcode_reports_changes_as_2(tmp_path, flags, code):
    assert _run(_plan_file(tmp_path), *flags).exit_code == code


def test_out_saves_a_plan_with_the_shown_namespace(tmp_path):
    from planrunner.savedplan import load_saved_plan

    out = tmp_path / "btc.plan.json"
    plan_path = _plan_file(tmp_path)
    result = _run(plan_path, "--out", str(out))
    assert result.exit_code == 0, result.output
    saved = load_saved_plan(str(out))
    assert f"Saved this plan to {out}" in result.stdout
    assert f"(namespace {saved.namespace})" in result.stdout
    assert saved.plan_path == plan_path and saved.state_lineage is None
    assert saved.payload["plan"]["fingerprint"] == saved.fingerprint


def test_missing_file(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    _assert_clean_failure(_run(missing), missing)


def test_folder_instead_of_file(tmp_path):
    _assert_clean_failure(_run(str(tmp_path)), str(tmp_path))


def test_invalid_plan_prints_every_diagnostic_with_its_line(tmp_path):
    bad = GOOD_PLAN.replace("side: buy", "side: long").replace("quantity:", "quantitty:")
    path = _plan_file(tmp_path, bad)
    result = _run(path, "--detailed-exitcode")
    _assert_clean_failure(result)
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) >= 2
    assert all(line.startswith(f"{path}:") for line in errors)
    assert result.stdout == ""


def test_compile_error_is_one_clear_message(tmp_path):
    tiny = GOOD_PLAN.replace("quantity: 0.002", "quantity: 0.00002")
    result = _run(_plan_file(tmp_path, tiny), "--detailed-exitcode")
    _assert_clean_failure(result, "Error: ")
    assert "notional" in result.stderr.lower()


def test_unknown_paper_symbol_is_a_clear_error(tmp_path):
    odd = GOOD_PLAN.replace("BTCUSDT", "XRPUSDT")
    _assert_clean_failure(_run(_plan_file(tmp_path, odd)), "XRPUSDT")


@pytest.mark.parametrize("exchange", ["binance", "binance-testnet"])
def test_live_exchanges_without_keys_fail_before_any_network_call(tmp_path, exchange, monkeypatch):
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET", "BINANCE_PRIVATE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    text = GOOD_PLAN.replace("exchange: paper", f"exchange: {exchange}")
    _assert_clean_failure(_run(_plan_file(tmp_path, text)), "BINANCE_API_KEY")


def test_unwritable_out_is_a_clear_error(tmp_path):
    out = str(tmp_path / "no-such-folder" / "plan.json")
    _assert_clean_failure(_run(_plan_file(tmp_path), "--out", out), "cannot write the saved plan")


def test_plan_path_never_imports_requests(tmp_path):
    code = ("import sys\nfrom planrunner.cli import main\n"
            "try:\n    main(['plan', sys.argv[1]])\nexcept SystemExit as exit:\n"
            "    assert exit.code == 0, exit.code\n"
            "print('requests' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, _plan_file(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def _on_terminal(args, env):
    """Run planrunner with stdout on a pseudo-terminal, as a person would; returns its output."""
    import os
    pty = pytest.importorskip("pty")
    exe = os.path.join(os.path.dirname(sys.executable), "planrunner")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([exe, *args], stdout=follower, stderr=subprocess.PIPE, env=env,
                              timeout=60, check=False)
        os.close(follower)
        follower = -1
        assert done.returncode == 0, done.stderr
        return _drain(leader)
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def _drain(fd: int) -> str:
    import os
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal has no writer left
            break
        if not chunk:
            break
        out += chunk
    return out.decode("utf-8")


@pytest.mark.parametrize("no_color, coloured", [(None, True), ("1", False)])
def test_colour_only_on_a_terminal_without_no_color(tmp_path, no_color, coloured):
    import os
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color:
        env["NO_COLOR"] = no_color
    out = _on_terminal(["plan", _plan_file(tmp_path)], env)
    assert "Plan: " in out
    assert ("\x1b[32m" in out) is coloured


@pytest.mark.parametrize("plan_path", ["plans/btc.yaml", "btc.YML", "/x/y/btc.plan", "btc"])
def test_state_path_rule_matches_the_state_module(plan_path):
    from planrunner.commands.plan import default_state_path as _default_state_path
    from planrunner.state import default_state_path

    assert _default_state_path(plan_path) == default_state_path(plan_path)


def _write_state(plan_path: str):
    from planrunner.state import StateStore, default_state_path, new_state

    state = new_state(plan_name="btc-cli", plan_fingerprint="f" * 64, exchange="paper",
                      symbol="BTCUSDT", lineage="11111111-2222-3333-4444-555555555555")
    return StateStore(default_state_path(plan_path)).save(state)


def test_existing_state_fixes_the_namespace_and_is_recorded_by_out(tmp_path):
    from planrunner.savedplan import load_saved_plan

    plan_path = _plan_file(tmp_path)
    state = _write_state(plan_path)
    out = tmp_path / "saved.json"
    result = _run(plan_path, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"-{state.namespace}-" in result.stdout
    assert f"namespace {state.namespace} from" in result.stderr
    saved = load_saved_plan(str(out))
    assert (saved.namespace, saved.state_lineage, saved.state_serial) == (
        state.namespace, state.lineage, state.serial)


def test_corrupt_state_file_is_a_clear_error(tmp_path):
    plan_path = _plan_file(tmp_path)
    (tmp_path / "btc.state.json").write_text("{not json", encoding="utf-8")
    _assert_clean_failure(_run(plan_path), "Error: ", "btc.state.json")


def test_saved_plan_records_an_absolute_plan_path_so_apply_works_from_elsewhere(tmp_path,
                                                                              monkeypatch):
    from planrunner.savedplan import load_saved_plan
    plan_path = _plan_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    relative = Path(plan_path).name
    _run(relative, "--out", "saved.json")
    saved = load_saved_plan(str(tmp_path / "saved.json"))
    assert Path(saved.plan_path).is_absolute()
    assert Path(saved.plan_path) == Path(plan_path).resolve()
