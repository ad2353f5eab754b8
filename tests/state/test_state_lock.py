"""The sidecar lock: contention names the holder, release, force-unlock, across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from planrunner.errors import StateLocked
from planrunner.state import StateStore


def test_second_holder_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "plan.state.json")
    with store.lock("apply btc.yaml") as holder:
        with pytest.raises(StateLocked) as caught:
            with StateStore(tmp_path / "plan.state.json").lock("apply again"):
                pass
        message = str(caught.value)
        assert f"pid {os.getpid()} (apply btc.yaml)" in message
        assert holder.host in message and holder.since in message
        assert "force-unlock" in message
        assert store.lock_holder() == holder


def test_lock_is_released_on_exit_even_after_an_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "plan.state.json")
    with pytest.raises(RuntimeError):
        with store.lock("apply"):
            raise RuntimeError("boom")
    assert store.lock_holder() is None
    with store.lock("apply"):
        assert store.lock_holder() is not None


def test_force_unlock_frees_a_lock_held_by_a_hung_process(tmp_path: Path) -> None:
    state_path = tmp_path / "plan.state.json"
    script = textwrap.dedent(f"""
        import sys, time
        from planrunner.state import StateStore
        with StateStore({str(state_path)!r}).lock("apply hung"):
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        store = StateStore(state_path)
        with pytest.raises(StateLocked, match=f"pid {child.pid} \\(apply hung\\)"):
            with store.lock("apply"):
                pass
        released = store.force_unlock()
        assert released is not None and released.pid == child.pid
        with store.lock("apply"):
            assert store.lock_holder().pid == os.getpid()
    finally:
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()


def test_lock_of_a_dead_process_does_not_block(tmp_path: Path) -> None:
    state_path = tmp_path / "plan.state.json"
    script = ("from planrunner.state import StateStore\n"
              f"StateStore({str(state_path)!r}).lock('apply').__enter__()\n"
              "import os; os._exit(0)\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    with StateStore(state_path).lock("apply"):
        pass


def test_force_unlock_without_a_lock_is_harmless(tmp_path: Path) -> None:
    assert StateStore(tmp_path / "plan.state.json").force_unlock() is None
