"""Matcher accuracy on the labelled phrase sets in tests/data, and matching speed.

Targets: top-1 accuracy above 95 % on tests/data/phrases.yaml, no match on tests/data/offtopic.yaml,
and under 2 ms per message with 500 playbooks loaded.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from bot.app import load_catalog
from bot.config import load_settings
from bot.playbooks.matcher import Matcher

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
TARGET_ACCURACY = 0.95
TARGET_MS_PER_MESSAGE = 2.0


def _load(name: str) -> list[dict]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def accuracy(matcher: Matcher, threshold: float, *, show_misses: bool = True) -> tuple[float, int]:
    """Print per-kind and per-playbook accuracy; return (top-1 accuracy, off-topic false positives)."""
    phrases = _load("phrases.yaml")
    offtopic = _load("offtopic.yaml")
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    by_playbook: dict[str, list[bool]] = defaultdict(list)
    misses = []
    for case in phrases:
        ranked = matcher.rank(case["text"], limit=1)
        top = ranked[0] if ranked and ranked[0].score >= threshold else None
        correct = top is not None and top.playbook_id == case["playbook"]
        totals[case["kind"]] += 1
        hits[case["kind"]] += correct
        by_playbook[case["playbook"]].append(correct)
        if not correct:
            misses.append((case["playbook"], top.playbook_id if top else "-", top.score if top else 0.0, case["text"]))
    false_positives = []
    for case in offtopic:
        ranked = matcher.rank(case["text"], limit=1)
        if ranked and ranked[0].score >= threshold:
            false_positives.append((ranked[0].playbook_id, ranked[0].score, case["text"]))

    overall = sum(hits.values()) / len(phrases)
    print(f"top-1 accuracy: {overall:.1%} ({sum(hits.values())}/{len(phrases)}), target > {TARGET_ACCURACY:.0%}")
    for kind in sorted(totals):
        print(f"  {kind:6} {hits[kind] / totals[kind]:.1%} ({hits[kind]}/{totals[kind]})")
    weakest = sorted(by_playbook.items(), key=lambda item: sum(item[1]) / len(item[1]))[:3]
    print("  weakest playbooks: " + ", ".join(f"{pid} {sum(r) / len(r):.0%}" for pid, r in weakest))
    print(f"off-topic matched: {len(false_positives)}/{len(offtopic)}, target 0")
    if show_misses:
        for expected, got, score, text in misses[:25]:
            print(f"  miss: expected {expected}, got {got} ({score:.2f}): {text[:90]}")
        for got, score, text in false_positives[:15]:
            print(f"  off-topic match: {got} ({score:.2f}): {text[:90]}")
    return overall, len(false_positives)


def speed(matcher: Matcher, texts: list[str], *, rounds: int = 3) -> float:
    """Return the median milliseconds per message over ``rounds`` passes."""
    per_round = []
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            matcher.rank(text)
        per_round.append((time.perf_counter() - started) * 1000 / len(texts))
    return statistics.median(per_round)


def scaled_playbooks(playbooks: list, copies: int) -> list:
    """Return ``copies`` renamed copies of each playbook, to measure matching with many loaded."""
    scaled = []
    for number in range(copies):
        for playbook in playbooks:
            scaled.append(playbook.model_copy(update={"id": f"{playbook.id}-{number}"}))
    return scaled


def run() -> bool:
    settings = load_settings()
    catalog = load_catalog(settings)
    threshold = settings.matching.threshold
    print(f"{len(catalog.playbooks)} playbooks, threshold {threshold}")
    overall, false_positives = accuracy(catalog.matcher, threshold)

    texts = [case["text"] for case in _load("phrases.yaml") + _load("offtopic.yaml")]
    copies = max(1, 500 // max(len(catalog.playbooks), 1))
    large = Matcher(scaled_playbooks(list(catalog.playbooks), copies))
    per_message = speed(large, texts)
    print(f"speed with {copies * len(catalog.playbooks)} playbooks: {per_message:.3f} ms/message, {1000 / per_message:.0f} messages/s on one core (target < {TARGET_MS_PER_MESSAGE} ms)")
    return overall > TARGET_ACCURACY and false_positives == 0 and per_message < TARGET_MS_PER_MESSAGE
