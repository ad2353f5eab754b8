"""Shared fixtures for the apply / status / cancel end-to-end tests.

Every test gets its own working folder (a copy of the plan, the state beside it) and its own
paper account ($PLANRUNNER_PAPER_DIR), so nothing touches the repo's plans/ or .paper/. The
helpers are methods of the `ws` fixture (test files never import conftest: several test folders
have one, and the module name `conftest` is shared).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from planrunner.cli import main
from planrunner.state import StateStore

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "plans" / "examples"
PROC_TIMEOUT_S = 30
CLI = [sys.executable, "-m", "planrunner.cli"]

# A limit entry well under the BTCUSDT opening price (7195.24): at --speed 0 it rests, so its
# orders stay open until the test interrupts, cancels or moves the market.
RESTING_PLAN = """\
version: 1
name: btc-resting
exchange: paper
symbol: BTCUSDT
side: buy
entry:
  type: limit
  price: 7000
quantity: 0.002
take_profit:
  - price: 7300
    portion: 100%
stop:
  trigger: 6900
  limit: 6890
"""


@dataclass(frozen=True)
class Workspace:
    root: Path
    paper_dir: Path

    def plan(self, name: str = "quickstart.yaml", text: str | None = None) -> Path:
        """A working copy of an example plan (or `text`) in this workspace."""
        path = self.root / name
        if text is None:
            shutil.copyfile(EXAMPLES / name, path)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def resting(self, name: str = "resting.yaml") -> Path:
        """A plan whose limit entry rests at --speed 0 (RESTING_PLAN)."""
        return self.plan(name, RESTING_PLAN)

    @staticmethod
    def examples() -> list[str]:
        return sorted(p.name for p in EXAMPLES.glob("*.yaml"))

    def state_path(self, plan: Path) -> Path:
        return plan.with_name(f"{plan.stem}.state.json")

    def state(self, plan: Path):
        return StateStore(self.state_path(plan)).load()

    def paper_orders(self):
        """Every order on this workspace's paper account (opened without moving the market)."""
        from planrunner.exchanges.factory import open_paper_exchange
        account = self.paper_dir / "account.json"
        if not account.is_file():
            return ()
        return open_paper_exchange(account, speed=0).all_orders()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PLANRUNNER_PAPER_DIR"] = str(self.paper_dir)
        env.pop("NO_COLOR", None)
        return env

    # --- running the CLI ---------------------------------------------------------------------

    @staticmethod
    def cli(*args, stdin: str | None = None):
        """Run the CLI in-process; stdin is not a terminal, so apply never prompts."""
        return CliRunner().invoke(main, [str(a) for a in args], input=stdin)

    @staticmethod
    def assert_clean(result, code: int) -> None:
        assert result.exit_code == code, (result.stdout, result.stderr)
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exception
        assert "Traceback" not in result.output

    @staticmethod
    def json_lines(text: str) -> list[dict]:
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def proc(self, *args, timeout: float = PROC_TIMEOUT_S) -> subprocess.CompletedProcess:
        """The CLI as a real process, in the module form (`python -m planrunner.cli`)."""
        return subprocess.run([*CLI, *[str(a) for a in args]], cwd=self.root, env=self.env(),
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)

    def apply_until(self, *args, marker: str) -> Interrupted:
        """Start `apply ARGS` in a real process, wait for a stdout line containing `marker`, then
        press Ctrl-C (SIGINT) and collect the exit code and the output."""
        proc = subprocess.Popen([*CLI, "apply", *[str(a) for a in args]], cwd=self.root,
                                env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL)
        seen: list[str] = []
        watchdog = threading.Timer(PROC_TIMEOUT_S, proc.kill)  # a marker that never comes
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # ends at EOF if the process exits (or is killed)
                seen.append(line)
                if marker in line:
                    break
            proc.send_signal(signal.SIGINT)
            rest, err = proc.communicate(timeout=PROC_TIMEOUT_S)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out = "".join(seen) + rest
        assert any(marker in line for line in seen), (out, err)
        return Interrupted(proc.returncode, out, err)


@dataclass(frozen=True)
class Interrupted:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    root = tmp_path / "work"
    root.mkdir()
    paper = tmp_path / "paper"
    monkeypatch.setenv("PLANRUNNER_PAPER_DIR", str(paper))
    monkeypatch.chdir(root)
    return Workspace(root=root, paper_dir=paper)


