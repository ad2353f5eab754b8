"""`planrunner validate` end to end: through click's CliRunner and once as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from planrunner.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "plans" / "examples" / "quickstart.yaml"
BROKEN = """\
version: 1
name: broken
symbol: BTC/USDT
side: buy
entry: {type: market}
quantity: 0.01
take_profit:
  - price: "+1%"
    portion: 50
stpo: {trigger: "-1%"}
"""


def run(*args: str):
    return CliRunner().invoke(main, ["validate", *args])


def test_valid_plan_exits_0():
    result = run(str(QUICKSTART))
    assert result.exit_code == 0, result.output
    assert f"{QUICKSTART}: valid" in result.output


def test_invalid_plan_exits_1_with_every_problem(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    result = run(str(path))
    assert result.exit_code == 1
    assert f"{path}:3:9: error: symbol must be" in result.output and "write BTCUSDT" in result.output
    assert f"{path}:9:14: error: take_profit #1 portion" in result.output
    assert f"{path}:10:1: error: unknown key 'stpo'; did you mean 'stop'?" in result.output
    assert "Traceback" not in result.output


def test_one_bad_file_among_good_ones_fails_the_run(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    result = run(str(QUICKSTART), str(missing))
    assert result.exit_code == 1
    assert f"{missing}:0:0: error: no such file" in result.output


def test_real_process(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"version: 1\nname: &x a\n")
    command = [sys.executable, "-m", "planrunner.cli", "validate"]
    good = subprocess.run([*command, str(QUICKSTART)], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == f"{QUICKSTART}: valid"
    failed = subprocess.run([*command, str(bad)], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"{bad}:2:7: error: YAML anchors and aliases")
    assert "Traceback" not in failed.stderr
