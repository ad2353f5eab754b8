"""`planrunner sim` as a real process: it prints its URL first, answers, and stops on SIGTERM;
bad options are one clear line, not a traceback."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from planrunner.errors import PlanrunnerError
from planrunner.sim.server import SimOptions

CLI = [sys.executable, "-m", "planrunner.cli"]


def test_sim_process_prints_url_first_and_stops_on_sigterm():
    with subprocess.Popen([*CLI, "sim", "--port", "0"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            assert proc.stdout.readline().startswith("API key: ")
            assert requests.get(f"{url}/api/v3/ping", timeout=5).json() == {}
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert "Traceback" not in proc.stderr.read()


def test_bad_option_is_one_clear_line():
    done = subprocess.run([*CLI, "sim", "--balance", "USDT=lots"], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "ASSET=AMOUNT" in done.stderr


def _options(**kw) -> SimOptions:
    base = {"host": "127.0.0.1", "port": 0, "prices": (), "speed": "0", "balances": (),
            "api_key": None, "api_secret": None}
    return SimOptions.from_cli(**{**base, **kw})


@pytest.mark.parametrize("kw, says", [
    ({"host": "0.0.0.0"}, "loopback"),
    ({"port": 70000}, "--port"),
    ({"speed": "fast"}, "--speed"),
    ({"speed": "-1"}, "--speed"),
    ({"balances": ("USDT=-5",)}, "ASSET=AMOUNT"),
    ({"balances": ("USDT=1", "usdt=2")}, "twice"),
    ({"prices": ("prices.csv",)}, "SYMBOL=FILE"),
    ({"api_key": "k"}, "--api-secret"),
])
def test_option_errors_say_what_to_change(kw, says):
    with pytest.raises(PlanrunnerError) as info:
        _options(**kw)
    assert says in str(info.value)


def test_options_are_parsed_exactly():
    options = _options(speed="2.5", balances=("usdt=100.10", "BTC=0"),
                       prices=("ETHUSDT=/tmp/x.csv", "/data/BTCUSDT-1m-2020-01-01.csv"))
    assert options.speed == Decimal("2.5")
    assert options.balances == (("USDT", Decimal("100.10")), ("BTC", Decimal(0)))
    assert options.price_files == (("ETHUSDT", "/tmp/x.csv"),
                                   ("BTCUSDT", "/data/BTCUSDT-1m-2020-01-01.csv"))


def test_replayed_prices_and_speed_move_the_market(tmp_path: Path):
    from planrunner.clock import ManualClock
    from planrunner.sim.remote import SimControl
    from planrunner.sim.server import start_simulator

    sample = Path(__file__).resolve().parents[2] / "planrunner" / "data" / "sample"
    csv = tmp_path / "BTCUSDT-1m-2020-01-02.csv"
    shutil.copy(sample / "BTCUSDT-1m-2020-01-02.csv", csv)
    clock = ManualClock()
    sim = start_simulator(_options(prices=(str(csv),), speed="60", balances=("USDT=5",)), clock=clock)
    try:
        control = SimControl(sim.base_url)
        start = control.time()["marketTime"]
        first = requests.get(f"{sim.base_url}/api/v3/ticker/price?symbol=BTCUSDT", timeout=5).json()
        clock.advance(10_000)  # 10 wall seconds x 60 = 10 market minutes
        rows = requests.get(f"{sim.base_url}/api/v3/klines?symbol=BTCUSDT&interval=1m",
                            timeout=5).json()
        assert control.time()["marketTime"] == start + 600_000
        assert len(rows) == 11 and rows[0][1] == first["price"]
        assert control.balances() == {"USDT": (Decimal(5), Decimal(0))}
    finally:
        sim.stop()


def test_a_taken_port_is_a_clear_error():
    from planrunner.sim.server import start_simulator

    first = start_simulator(_options())
    try:
        port = int(first.base_url.rsplit(":", 1)[1])
        with pytest.raises(PlanrunnerError) as info:
            start_simulator(_options(port=port))
        assert f"127.0.0.1:{port}" in str(info.value) and "--port" in str(info.value)
    finally:
        first.stop()
