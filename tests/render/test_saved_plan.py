"""Saved plans: atomic write, faithful read, and clear refusals of anything else."""

from __future__ import annotations

import calendar
import json
import os

import pytest
from render_samples import market_then_oco_plan, opoco_plan

from planrunner.clock import ManualClock
from planrunner.errors import PlanrunnerError
from planrunner.render import render_json
from planrunner.savedplan import SAVED_PLAN_FORMAT, SavedPlan, load_saved_plan, save_plan

# 2026-11-24 02:50:00.123 UTC
CLOCK = ManualClock(start_ms=calendar.timegm((2026, 11, 24, 2, 50, 0)) * 1000 + 123)


def _save(tmp_path, plan=None, **kw):
    path = tmp_path / "btc.plan.json"
    options = {"plan_path": "plans/btc.yaml", "state_lineage": None, "state_serial": None}
    options.update(kw)
    save_plan(str(path), plan or opoco_plan(), clock=CLOCK, **options)
    return path


def test_round_trip_keeps_every_field(tmp_path):
    path = _save(tmp_path, state_lineage="0b7c6a1e-uuid", state_serial=7)
    saved = load_saved_plan(str(path))
    assert saved == SavedPlan(plan_path="plans/btc.yaml", fingerprint="ab" * 32,
                              namespace="test00", state_lineage="0b7c6a1e-uuid", state_serial=7,
                              created_at="2026-11-24T02:50:00Z", payload=render_json(opoco_plan()))


def test_without_state_lineage_and_serial_are_none(tmp_path):
    saved = load_saved_plan(str(_save(tmp_path, market_then_oco_plan())))
    assert (saved.state_lineage, saved.state_serial) == (None, None)
    assert saved.namespace == "x"


def test_file_is_sorted_indented_json_without_floats(tmp_path):
    text = _save(tmp_path).read_text("utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert document["format"] == SAVED_PLAN_FORMAT and document["format_version"] == 1


def test_overwrite_leaves_no_temporary_files(tmp_path):
    _save(tmp_path)
    _save(tmp_path, market_then_oco_plan())
    assert os.listdir(tmp_path) == ["btc.plan.json"]
    assert load_saved_plan(str(tmp_path / "btc.plan.json")).namespace == "x"


def test_unwritable_folder_is_a_clear_error(tmp_path):
    target = tmp_path / "missing-folder" / "plan.json"
    with pytest.raises(PlanrunnerError, match="cannot write the saved plan"):
        save_plan(str(target), opoco_plan(), plan_path="p.yaml", state_lineage=None,
                  state_serial=None, clock=CLOCK)


def _write(tmp_path, content: str | bytes):
    path = tmp_path / "saved.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def _valid_document(tmp_path) -> dict:
    return json.loads(_save(tmp_path).read_text("utf-8"))


@pytest.mark.parametrize("content, message", [
    ("", "not valid JSON"),
    ("{\"format\": \"planrunner-saved-plan\", ", "not valid JSON"),
    (b"\xff\xfe\x00binary", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ("version: 1\nname: btc\n", "not valid JSON"),
    ("{\"format_version\": 1, \"lineage\": \"x\", \"serial\": 3}", "not a planrunner saved plan"),
])
def test_garbage_and_other_formats_are_refused(tmp_path, content, message):
    with pytest.raises(PlanrunnerError, match=message):
        load_saved_plan(_write(tmp_path, content))


@pytest.mark.parametrize("change, message", [
    ({"format_version": 2}, "newer planrunner"),
    ({"format_version": "1"}, "format_version is missing"),
    ({"namespace": 5}, "field 'namespace'"),
    ({"state_serial": "3"}, "field 'state_serial'"),
    ({"state_serial": True}, "field 'state_serial'"),
    ({"fingerprint": "cd" * 32}, "fingerprint or namespace does not match"),
    ({"plan": {"plan": []}}, "fingerprint or namespace does not match"),
    ({"created_at": 1.5}, "not valid JSON"),
])
def test_corrupt_fields_are_refused(tmp_path, change, message):
    document = _valid_document(tmp_path)
    document.update(change)
    with pytest.raises(PlanrunnerError, match=message):
        load_saved_plan(_write(tmp_path, json.dumps(document)))


def test_missing_field_is_refused(tmp_path):
    document = _valid_document(tmp_path)
    del document["plan_path"]
    with pytest.raises(PlanrunnerError, match="field 'plan_path'"):
        load_saved_plan(_write(tmp_path, json.dumps(document)))


def test_missing_file_and_folder_say_how_to_make_one(tmp_path):
    with pytest.raises(PlanrunnerError, match="no saved plan at .*plan PLAN --out FILE"):
        load_saved_plan(str(tmp_path / "nope.json"))
    with pytest.raises(PlanrunnerError, match="is a folder"):
        load_saved_plan(str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file_is_refused(tmp_path):
    path = _save(tmp_path)
    path.chmod(0)
    try:
        with pytest.raises(PlanrunnerError, match="cannot read the saved plan"):
            load_saved_plan(str(path))
    finally:
        path.chmod(0o600)
