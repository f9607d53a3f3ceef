"""The ``--json`` report: a stable format, documented in docs/report-format.md."""

from __future__ import annotations

import json
from typing import Any

from bot.diagnosis import Diagnosis
from bot.report.summary import evidence_lines

__all__ = ["FORMAT_VERSION", "diagnosis_to_dict", "render_json"]

FORMAT_VERSION = 1


def diagnosis_to_dict(diagnosis: Diagnosis, lang: str) -> dict[str, Any]:
    """Return the report as plain data in ``lang``."""
    return {
        "format_version": FORMAT_VERSION,
        "run_id": diagnosis.run_id,
        "query": diagnosis.query,
        "lang": lang,
        "sample": diagnosis.sample,
        "namespace": diagnosis.namespace,
        "inputs": dict(diagnosis.inputs),
        "playbook": {"id": diagnosis.playbook_id, "title": diagnosis.playbook_title.get(lang)},
        "candidates": [{"playbook": item.playbook_id, "score": item.score} for item in diagnosis.candidates],
        "status": diagnosis.verdict.value,
        "checks": [
            {
                "id": finding.check_id,
                "title": finding.title.get(lang),
                "status": finding.status.value,
                "evidence": evidence_lines(finding, lang),
                "duration_ms": finding.duration_ms,
            }
            for finding in diagnosis.findings
        ],
        "causes": [
            {
                "id": cause.cause_id,
                "title": cause.title.get(lang),
                "explanation": cause.explanation.get(lang),
                "patch": {
                    "path": cause.patch_path,
                    "format": cause.patch_format,
                    "content": cause.patch_content,
                    "note": cause.patch_note.get(lang) if cause.patch_note else None,
                },
                "verify": list(cause.verify),
            }
            for cause in diagnosis.causes
        ],
        "commands": list(diagnosis.commands),
        "started_at": diagnosis.started_at.isoformat(),
        "duration_ms": diagnosis.duration_ms,
    }


def render_json(diagnosis: Diagnosis, lang: str) -> str:
    return json.dumps(diagnosis_to_dict(diagnosis, lang), ensure_ascii=False, indent=2)
