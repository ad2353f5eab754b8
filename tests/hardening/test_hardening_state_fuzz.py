"""Damaged state files, starting from one a real paper apply wrote: truncated at every offset,
bytes flipped, values edited. Every load either refuses with StateError (a message that says
what to do) or yields a state that round-trips; it never raises anything else and never writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planrunner.errors import StateCorrupt, StateError
from planrunner.state import StateStore, parse_state, render_state

HINTS = ("Nothing was changed", "restore", "move", "upgrade", "--state", "Re-run")
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load_bytes(raw: bytes, path: Path):
    """parse_state, checking the only failure is a StateError with advice."""
    try:
        return parse_state(raw, path)
    except StateError as exc:
        message = str(exc)
        assert str(path) in message
        assert any(hint in message for hint in HINTS), message
        return None


def _round_trips(state) -> None:
    assert parse_state(render_state(state), Path("again.state.json")) == state


@pytest.fixture(scope="module")
def original(finished_run) -> bytes:
    return finished_run.state.read_bytes()


def test_the_real_state_file_is_rich_enough_to_fuzz(original: bytes) -> None:
    data = json.loads(original)
    assert len(data["steps"]) == 4 and len(data["orders"]) == 5 and len(data["fills"]) == 3
    assert parse_state(original, Path("x")).serial == data["serial"]


def test_truncation_at_every_offset_is_refused(original: bytes) -> None:
    path = Path("plans/quickstart.state.json")
    whole_document = len(original.rstrip())
    for offset in range(len(original)):
        state = _load_bytes(original[:offset], path)
        if offset < whole_document:
            assert state is None, offset
        else:  # only the trailing newline is gone
            assert state == parse_state(original, path)


@FUZZ
@given(data=st.data())
def test_flipped_replaced_and_deleted_bytes_never_escape_as_other_errors(original, data) -> None:
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "replace", "delete", "insert"]))
        if action == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "replace":
            raw[at] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del raw[at]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    state = _load_bytes(bytes(raw), Path("fuzzed.state.json"))
    if state is not None:
        _round_trips(state)


@FUZZ
@given(junk=st.binary(max_size=200))
def test_arbitrary_bytes_are_refused(junk: bytes) -> None:
    assert _load_bytes(junk, Path("junk.state.json")) is None


# --- value edits --------------------------------------------------------------------------------

def _edit(original: bytes, change) -> bytes:
    data = json.loads(original)
    change(data)
    return json.dumps(data, indent=2).encode("utf-8")


def _set(path: tuple, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _first_order(key: str, value):
    def change(data):
        next(iter(data["orders"].values()))[key] = value
    return change


def _drop(*path):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


EDITS = {
    "serial is a string": _set(("serial",), "11"),
    "serial is negative": _set(("serial",), -3),
    "serial is a float": _set(("serial",), 11.0),
    "serial is true": _set(("serial",), True),
    "lineage is a number": _set(("lineage",), 42),
    "price is a JSON number": _set(("fills", 0, "price"), 7195.24),
    "price is an integer": _set(("fills", 0, "price"), 7195),
    "price is not a number": _set(("fills", 0, "price"), "cheap"),
    "price is NaN": _set(("fills", 0, "price"), "NaN"),
    "price is infinite": _set(("fills", 0, "price"), "-Infinity"),
    "qty is null": _set(("fills", 0, "qty"), None),
    "step status unknown": _set(("steps", 0, "status"), "exploded"),
    "step is a list": _set(("steps", 0), ["entry"]),
    "steps is an object": _set(("steps",), {}),
    "orders is a list": _set(("orders",), []),
    "order trade ids are strings": _first_order("trade_ids", ["1"]),
    "order id is a float": _first_order("order_id", 1.5),
    "request pairs broken": _set(("steps", 0, "request"), [["symbol"]]),
    "fees hold a number": _set(("steps", 0, "fees"), {"BTC": 0.00001}),
    "legs hold a string": _set(("steps", 0, "legs"), ["leg"]),
    "missing lineage": _drop("lineage"),
    "missing steps": _drop("steps"),
    "missing a fill field": _drop("fills", 0, "commission"),
    "missing an order field": lambda d: next(iter(d["orders"].values())).pop("status"),
    "unknown top-level key": _set(("extra",), "dropped at the next save"),
    "unknown step key": _set(("steps", 0, "surprise"), 1),
    "unknown order key": _first_order("note", "mine"),
    "unknown fill key": _set(("fills", 0, "venue"), "x"),
    "missing format_version": _drop("format_version"),
    "format_version is a string": _set(("format_version",), "1"),
    "format_version is zero": _set(("format_version",), 0),
    "format_version is negative": _set(("format_version",), -1),
    "newer format_version": _set(("format_version",), 2),
    "namespace does not match lineage": _set(("namespace",), "aaaaaa"),
    "lineage edited": _set(("lineage",), "00000000-0000-4000-8000-000000000000"),
    "document is a list": lambda d: d.clear(),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_values_are_refused_with_advice(original: bytes, tmp_path: Path, edit: str) -> None:
    raw = _edit(original, EDITS[edit]) if edit != "document is a list" else b"[1, 2]"
    path = tmp_path / "quickstart.state.json"
    path.write_bytes(raw)
    with pytest.raises(StateError) as caught:
        StateStore(path).load()
    message = str(caught.value)
    assert str(path) in message and any(hint in message for hint in HINTS), message
    assert path.read_bytes() == raw
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quickstart.state.json"]


def test_newer_format_says_upgrade(original: bytes, tmp_path: Path) -> None:
    path = tmp_path / "s.state.json"
    path.write_bytes(_edit(original, _set(("format_version",), 7)))
    with pytest.raises(StateCorrupt, match="newer planrunner .*upgrade"):
        StateStore(path).load()


def test_other_plan_and_other_version_are_refused(original: bytes, tmp_path: Path) -> None:
    path = tmp_path / "s.state.json"
    path.write_bytes(original)
    with pytest.raises(StateCorrupt, match="belongs to plan 'btc-quickstart', not 'eth'"):
        StateStore(path).load(plan_name="eth")
    with pytest.raises(StateError, match="different version of plan"):
        StateStore(path).load(plan_name="btc-quickstart", fingerprint="0" * 64)
    assert path.read_bytes() == original


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_json_is_refused_not_a_recursion_error(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.state.json"
    path.write_bytes(b'{"format_version": 1, "steps": ' + b"[" * depth + b"]" * depth + b"}")
    with pytest.raises(StateCorrupt):
        StateStore(path).load()


def test_huge_integer_is_refused(original: bytes, tmp_path: Path) -> None:
    path = tmp_path / "s.state.json"
    path.write_bytes(original.replace(b'"serial": ', b'"serial": ' + b"9" * 5000, 1))
    with pytest.raises(StateCorrupt):
        StateStore(path).load()


def test_a_failed_save_over_a_damaged_file_leaves_it_and_its_backup_alone(run) -> None:
    store = StateStore(run.state)
    good = store.load()
    damaged = run.state.read_bytes()[:-40]
    run.state.write_bytes(damaged)
    backup = run.backup.read_bytes()
    with pytest.raises(StateCorrupt):
        store.save(good.with_fills(good.fills[:1]))
    assert run.state.read_bytes() == damaged and run.backup.read_bytes() == backup


def _json_paths(value, prefix: tuple = ()) -> list[tuple]:
    found = []
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append(prefix + (key,))
        found.extend(_json_paths(item, prefix + (key,)))
    return found


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=10),
    st.sampled_from(["", "NaN", "1e999", "-0", "0.1", "done", "sending", "BUY"]),
    st.floats(allow_nan=False), st.just([]), st.just({}), st.just([["a", "b"]]))


@FUZZ
@given(data=st.data())
def test_hypothesis_retyped_or_dropped_values(original: bytes, data) -> None:
    document = json.loads(original)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_json_paths(document)))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JSON_LEAVES)
        if not _json_paths(document):
            break
    state = _load_bytes(json.dumps(document).encode(), Path("retyped.state.json"))
    if state is not None:
        _round_trips(state)
