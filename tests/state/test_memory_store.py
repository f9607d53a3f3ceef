"""The in-process store's own behaviour: expired keys are swept, and stored values are copies."""

from __future__ import annotations

import asyncio

from bot.app import load_catalog
from bot.config import load_settings
from bot.report.blocks import evidence_dictionary
from bot.state.memory import SWEEP_INTERVAL_S, MemoryStore
from tests.state.conftest import run_record


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_expired_keys_are_swept_on_write() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)

    async def scenario() -> None:
        await store.hit("user:U1", 10, 60)  # the key names window int(1000 // 60) = 16
        await store.claim("command:trigger-1", 60)
        await store.save_run(run_record("run-kept"), 3600)
        clock.now += SWEEP_INTERVAL_S + 1
        await store.claim("command:trigger-2", 60)

    asyncio.run(scenario())

    assert store.ttl("otelbot:v1:claim:command:trigger-1") is None
    assert store.ttl("otelbot:v1:claim:command:trigger-2") is not None
    assert store.ttl("otelbot:v1:run:run-kept") is not None
    assert store.ttl("otelbot:v1:rate:user:U1:16") is None


def test_loaded_values_are_copies() -> None:
    store = MemoryStore()

    async def scenario() -> tuple:
        record = run_record("run-copy", inputs={"service": "user-service"})
        await store.save_run(record, 600)
        record.inputs["service"] = "changed-after-save"
        loaded = await store.load_run("run-copy")
        loaded.inputs["service"] = "changed-after-load"

        entry = {"kind": "evidence", "checks": [{"id": "a"}]}
        await store.append_history("C1:1.0", entry, max_entries=5, ttl_s=600)
        entry["checks"].append({"id": "added-after-append"})
        history = await store.history("C1:1.0")
        history[0]["checks"].append({"id": "added-after-read"})
        return await store.load_run("run-copy"), await store.history("C1:1.0")

    record, history = asyncio.run(scenario())

    assert record.inputs == {"service": "user-service"}
    assert history == [{"kind": "evidence", "checks": [{"id": "a"}]}]


def test_preset_dictionary_shrinks_evidence() -> None:
    playbooks = load_catalog(load_settings()).playbooks
    playbook = playbooks.get("spanmetrics-missing")
    entry = {
        "kind": "evidence",
        "playbook_id": playbook.id,
        "title": playbook.title.model_dump(),
        "checks": [{"id": check.id, "status": "pass", "duration_ms": 12, "title": check.title.model_dump(), "evidence": {"ko": [], "en": []}} for check in playbook.checks],
        "commands": list(playbook.commands),
    }
    plain, preset = MemoryStore(), MemoryStore(zdict=evidence_dictionary(playbooks))

    async def scenario(store: MemoryStore) -> list:
        await store.append_history("C1:1.0", entry, max_entries=5, ttl_s=600)
        return await store.history("C1:1.0")

    assert asyncio.run(scenario(preset)) == [entry]
    assert asyncio.run(scenario(plain)) == [entry]
    plain_size = len(plain._values["otelbot:v1:history:C1:1.0"][1][0])
    preset_size = len(preset._values["otelbot:v1:history:C1:1.0"][1][0])
    assert preset_size < plain_size * 0.7, f"{preset_size} bytes with the dictionary, {plain_size} without"
