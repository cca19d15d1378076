"""The wire contract: one payload model per task, what producers publish decodes with the same model on
the worker side, and the contract module stands alone (an app reading it imports neither side)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import smsq
from smsq.config import contract as names
from smsq.producers.publisher import wire_kwargs

ID = "00000000-0000-4000-8000-000000000001"
CAMPAIGN = "0123456789abcdef0123456789abcdef"
SAMPLES: dict[str, dict[str, Any]] = {
    names.SEND_TASK: {"message_id": ID},
    names.SEND_MANY_TASK: {"message_ids": [ID]},
    names.SUBMIT_TASK: {"message": {"to": "+37251234567"}, "idempotency_key": None},
    names.CANCEL_AT_PROVIDER_TASK: {"message_id": ID},
    names.BLACKLIST_SYNC_TASK: {
        "providers": ["smsapi"],
        "dry_run": True,
        "force": False,
        "trigger": "demand",
    },
    names.BLACKLIST_SYNC_RETRY_TASK: {},
    names.SEND_BATCH_TASK: {"campaign_id": CAMPAIGN, "first": 1, "last": 500},
    names.CAMPAIGN_SWEEP_TASK: {"campaign_id": CAMPAIGN},
    names.CAMPAIGN_FROM_GROUPS_TASK: {"campaign_id": CAMPAIGN, "group_ids": ["g-1"]},
    names.STATUS_POLL_TASK: {"message_ids": [ID]},
    names.DELIVERY_REPORT_TASK: {"message_id": ID, "provider": "smsapi", "status": "DELIVRD"},
    names.TWO_FACTOR_SEND_TASK: {"number": "+37251234567", "pin_length": 6},
    names.TWO_FACTOR_VERIFY_TASK: {"session_id": "a" * 32, "pin": "123456"},
    names.CALLBACK_DELIVER_TASK: {"events": [{"id": f"{ID}:1", "claim": 1, "url_id": "a" * 40}]},
}


def test_every_routed_task_has_one_payload_model() -> None:
    assert set(names.PAYLOADS) == set(names.TASK_ROUTES) == set(SAMPLES)
    assert set(names.PAYLOADS) >= names.RESULT_TASKS


@pytest.mark.parametrize("task", sorted(names.PAYLOADS))
def test_what_a_producer_publishes_is_json_the_worker_decodes_with_the_same_model(task: str) -> None:
    model = names.PAYLOADS[task]
    payload = model.model_validate(SAMPLES[task])
    wire = json.loads(json.dumps(wire_kwargs(payload)))  # exactly what crosses the broker
    assert model.model_validate(wire) == payload


@pytest.mark.parametrize("task", sorted(names.PAYLOADS))
def test_every_payload_refuses_an_unknown_field(task: str) -> None:
    with pytest.raises(ValidationError, match="smuggled"):
        names.PAYLOADS[task].model_validate({**SAMPLES[task], "smuggled": 1})


def test_the_contract_imports_neither_producers_nor_workers() -> None:
    code = "import sys, smsq.config.contract; print([m for m in sys.modules if m.startswith(('smsq.producers', 'smsq.workers'))])"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"


def test_tasks_are_published_only_through_the_publisher() -> None:
    """No send_task beside the publisher's: every payload goes out as its contract model."""
    root = Path(smsq.__file__).parent
    callers, scanned = [], 0
    for path in root.glob("*/**/*.py"):  # smsq/<folder> are links to the top-level folders
        relative = path.relative_to(root).as_posix()
        if relative.startswith("sandbox/") or relative == "producers/publisher.py":
            continue
        scanned += 1
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "send_task":
                callers.append(f"{relative}:{node.lineno}")
    assert scanned > 50 and callers == []
