"""The matcher ranks the runbook's symptoms to their playbooks and stays silent off topic.

Accuracy on the larger held-out set in tests/data/phrases.yaml is measured by
`python -m bench match`, not asserted here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.app import load_catalog
from bot.config import load_settings
from bot.playbooks.matcher import normalize

DATA = Path(__file__).parent / "data"
RUNBOOK = yaml.safe_load((DATA / "runbook_symptoms.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(load_settings())


@pytest.fixture(scope="module")
def threshold() -> float:
    return load_settings().matching.threshold


@pytest.mark.parametrize("case", RUNBOOK, ids=[case["text"][:40] for case in RUNBOOK])
def test_runbook_symptom_ranks_first(catalog, threshold: float, case: dict) -> None:
    ranked = catalog.matcher.rank(case["text"])

    assert ranked, f"no playbook matches {case['text']!r}"
    assert ranked[0].playbook_id == case["playbook"], [(m.playbook_id, m.score) for m in ranked[:3]]
    assert ranked[0].score >= threshold


@pytest.mark.parametrize(
    "text",
    ["점심 먹으러 가실 분", "배포 시작합니다 payments v2.3.1", "OOMKilled pod in checkout namespace", "good morning team", "PR 리뷰 부탁드려요"],
)
def test_off_topic_matches_nothing(catalog, threshold: float, text: str) -> None:
    ranked = catalog.matcher.rank(text)

    assert all(match.score < threshold for match in ranked), [(m.playbook_id, m.score) for m in ranked[:3]]


def test_korean_particles_and_spacing_normalize() -> None:
    assert normalize("스팬메트릭이 안 나와요")[0] == "spanmetrics"
    assert normalize("스팬 메트릭 안나와요")[0] == "spanmetrics"
    assert normalize("span metrics missing")[0] == "spanmetrics"
    assert normalize("서비스 그래프가 비어있어요")[0] == "servicegraph"


def test_typo_still_matches(catalog) -> None:
    ranked = catalog.matcher.rank("why no spanmetrcis")

    assert ranked[0].playbook_id == "spanmetrics-missing"


def test_signature_scores_high(catalog) -> None:
    line = 'error exporting: remote write returned HTTP status 404 Not Found; err = %!w(<nil>): remote write receiver needs to be enabled'

    ranked = catalog.matcher.rank(line)

    assert ranked[0].playbook_id == "spanmetrics-missing"
    assert ranked[0].via == "signature"
    assert ranked[0].score >= 0.9
