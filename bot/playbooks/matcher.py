"""Rank playbooks for a symptom phrase or a pasted log line.

Text is normalised first: lower case, Korean particles cut from the end of words, and the field's
terms mapped to one spelling in both languages (스팬 메트릭, span metrics and spanmetrics all become
``spanmetrics``), so a Korean question can match an English phrase. Words the vocabulary does not
know are corrected to the closest known word when they are close enough (typos).

The score of a playbook is the best TF-IDF cosine similarity between the query and one of its
phrases, over words and character trigrams; a matching signature regex scores at least
``SIGNATURE_SCORE``. Scores are in [0, 1].
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable

from rapidfuzz import process as fuzzy_process
from rapidfuzz.distance import OSA

from bot.playbooks.schema import Playbook

__all__ = ["Match", "Matcher", "SIGNATURE_SCORE", "normalize"]

SIGNATURE_SCORE = 0.92
_WORD_WEIGHT = 0.6
_GRAM_WEIGHT = 0.4

# Longest first, so 에서는 is cut before 는.
_PARTICLES = sorted(
    ["이", "가", "은", "는", "을", "를", "에", "에서", "에서는", "에는", "으로", "로", "와", "과", "의", "도", "만",
     "이랑", "랑", "까지", "부터", "이나", "나", "이요", "요", "이에요", "예요", "인데", "인데요", "이야", "야"],
    key=len,
    reverse=True,
)

# Spellings of the field's terms, mapped to one token. Multi-word keys are replaced before splitting.
_TERMS: dict[str, str] = {
    "span metrics": "spanmetrics", "span metric": "spanmetrics", "span-metrics": "spanmetrics",
    "span_metrics": "spanmetrics", "스팬 메트릭": "spanmetrics", "스팬메트릭": "spanmetrics", "스팬 매트릭": "spanmetrics",
    "스팬매트릭": "spanmetrics", "spanmetric": "spanmetrics",
    "service graph": "servicegraph", "service-graph": "servicegraph", "service_graph": "servicegraph",
    "서비스 그래프": "servicegraph", "서비스그래프": "servicegraph", "서비스 맵": "servicegraph", "서비스맵": "servicegraph",
    "service map": "servicegraph", "node graph": "servicegraph", "노드 그래프": "servicegraph", "노드그래프": "servicegraph",
    "remote write": "remotewrite", "remote-write": "remotewrite", "remote_write": "remotewrite",
    "리모트 라이트": "remotewrite", "리모트라이트": "remotewrite", "원격 쓰기": "remotewrite",
    "data source": "datasource", "data-source": "datasource", "데이터 소스": "datasource", "데이터소스": "datasource",
    "metrics generator": "metricsgenerator", "metrics-generator": "metricsgenerator", "metrics_generator": "metricsgenerator",
    "메트릭 제너레이터": "metricsgenerator", "메트릭 생성기": "metricsgenerator", "메트릭제너레이터": "metricsgenerator",
    "connection refused": "connrefused", "연결 거부": "connrefused", "연결이 거부": "connrefused",
    "context propagation": "propagation", "컨텍스트 전파": "propagation",
    "label_values": "labelvalues", "label values": "labelvalues",
}
_WORDS: dict[str, str] = {
    "트레이스": "trace", "traces": "trace", "tracing": "trace", "트레이싱": "trace", "추적": "trace",
    "메트릭": "metric", "매트릭": "metric", "metrics": "metric", "지표": "metric",
    "대시보드": "dashboard", "dashboards": "dashboard", "대쉬보드": "dashboard",
    "프로메테우스": "prometheus", "프로메": "prometheus", "prom": "prometheus",
    "템포": "tempo", "그라파나": "grafana", "그라파나에서": "grafana",
    "콜렉터": "collector", "컬렉터": "collector", "collectors": "collector", "otelcol": "collector",
    "히스토그램": "histogram", "단위": "unit", "units": "unit",
    "지연": "latency", "지연시간": "latency", "레이턴시": "latency", "응답시간": "latency", "duration": "latency",
    "변수": "variable", "variables": "variable", "드롭다운": "dropdown", "템플릿": "template",
    "인증": "auth", "unauthorized": "auth", "authentication": "auth", "sigv4": "auth", "401": "auth",
    "전파": "propagation", "propagate": "propagation", "propagated": "propagation",
    "데이터베이스": "db", "database": "db", "gorm": "db", "디비": "db", "레디스": "redis",
    "스팬": "span", "spans": "span", "라벨": "label", "레이블": "label", "labels": "label",
    "차원": "dimension", "dimensions": "dimension", "디멘션": "dimension",
    "프로비저닝": "provisioning", "provision": "provisioning", "provisioned": "provisioning",
    "포트": "port", "ports": "port", "엔드포인트": "endpoint", "endpoints": "endpoint",
    "익스포터": "exporter", "exporters": "exporter", "exporting": "exporter", "export": "exporter",
    "파이프라인": "pipeline", "pipelines": "pipeline", "커넥터": "connector", "connectors": "connector",
    "서비스": "service", "services": "service", "그래프": "graph", "엣지": "edge", "edges": "edge",
    "밀리초": "ms", "milliseconds": "ms", "millisecond": "ms", "초": "seconds",
    "디스크": "disk", "용량": "disk", "storage": "disk", "스토리지": "disk", "pvc": "disk",
    "환경변수": "env", "환경": "env", "environment": "env",
}
# Words that carry no symptom: fillers, pronouns, and the "is missing" words every symptom shares.
_STOPWORDS = frozenset(
    "the a an and or but for to of in on at by with from as is are was were be been being it its this that these "
    "those we our us i my me you your they them he she do does did have has had just still so any all some can "
    "could should would will there here what why how when where which who please pls hi hey thanks thank no not "
    "none nothing anymore again also now today yet see seeing shows showing shown show get getting got".split()
    + "것 거 같아 같아요 같은데 좀 이거 그거 저거 왜 지금 혹시 어떻게 해야 하나요 있나요 있어 있어요 없어 없어요 없음 없네 "
    "안 안돼 안돼요 안됨 나와 나와요 나옴 보여 보여요 보임 비어 비어있어 비어있음 확인 부탁 드려요 합니다 해요 했는데 "
    "하는데 계속 갑자기 아예 전혀 다 또 그냥 이제 요즘 오늘 뭔가 뭐가 무슨 이게 그게".split()
)
# Terms of the monitoring stack; a message with none of them is not about it, whatever else it shares.
_DOMAIN = frozenset(
    "spanmetrics servicegraph remotewrite datasource metricsgenerator connrefused propagation labelvalues "
    "trace span metric dashboard prometheus tempo grafana collector histogram latency variable dropdown template "
    "auth db redis label dimension provisioning exporter pipeline connector otel otlp opentelemetry otelhttp "
    "otelgorm redisotel sigv4auth aps amp promql query series 4317 4318 9090 3200 8888 grpc receiver "
    "unit ms seconds p95 p99 edge graph endpoint instrumentation sdk tracer context traceparent calls_total "
    "duration_seconds_bucket api/v1/write traceql explore loki".split()
)
_NO_DOMAIN_FACTOR = 0.5
_SPLIT = re.compile(r"[^0-9a-z가-힣_.]+")
_TERM_PATTERN = re.compile("|".join(re.escape(term) for term in sorted(_TERMS, key=len, reverse=True)))
_PARTICLE_SET = frozenset(_PARTICLES)


@dataclass(frozen=True)
class Match:
    """A playbook and how well it matches the query."""

    playbook_id: str
    score: float
    via: str  # "phrase" or "signature"


def normalize(text: str) -> list[str]:
    """Return the normalised words of ``text`` (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = "".join(char if char.isprintable() else " " for char in folded)
    folded = _TERM_PATTERN.sub(lambda match: f" {_TERMS[match.group(0)]} ", folded)
    words = []
    for raw in _SPLIT.split(folded):
        word = raw.strip("._")
        if not word or word in _PARTICLE_SET:
            continue
        word = _strip_particle(word)
        word = _WORDS.get(word, _TERMS.get(word, word))
        if word not in _STOPWORDS:
            words.append(word)
    return words


def _has_domain_term(words: list[str]) -> bool:
    return any(word in _DOMAIN or word.startswith(("traces_", "otelcol_", "otel_", "http.", "db.")) for word in words)


def _strip_particle(word: str) -> str:
    if not ("가" <= word[-1] <= "힣"):
        return word
    for particle in _PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word


def _grams(words: list[str]) -> list[str]:
    grams = []
    for word in words:
        padded = f" {word} "
        if len(padded) <= 3:
            grams.append(padded)
            continue
        grams.extend(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


class _Index:
    """An inverted TF-IDF index over one kind of feature (words or trigrams)."""

    def __init__(self, documents: list[list[str]]) -> None:
        frequency = Counter(feature for document in documents for feature in set(document))
        total = len(documents)
        self.idf = {feature: math.log((1 + total) / (1 + count)) + 1.0 for feature, count in frequency.items()}
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for number, document in enumerate(documents):
            vector = self._vector(document)
            for feature, weight in vector.items():
                self.postings[feature].append((number, weight))

    def _vector(self, features: list[str]) -> dict[str, float]:
        counts = Counter(features)
        vector = {feature: (1 + math.log(count)) * self.idf.get(feature, 0.0) for feature, count in counts.items()}
        norm = math.sqrt(sum(weight * weight for weight in vector.values())) or 1.0
        return {feature: weight / norm for feature, weight in vector.items() if weight}

    def similarities(self, features: list[str]) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for feature, weight in self._vector(features).items():
            for number, document_weight in self.postings.get(feature, ()):
                scores[number] += weight * document_weight
        return scores


class Matcher:
    """Ranks playbooks for a text; build once per playbook set, then call ``rank``."""

    def __init__(self, playbooks: Iterable[Playbook]) -> None:
        self._owners: list[str] = []
        word_documents: list[list[str]] = []
        self._signatures: list[tuple[str, re.Pattern[str]]] = []
        for playbook in playbooks:
            for phrase in [*playbook.symptoms.ko, *playbook.symptoms.en, playbook.title.ko, playbook.title.en]:
                self._owners.append(playbook.id)
                word_documents.append(normalize(phrase))
            for signature in playbook.signatures:
                self._signatures.append((playbook.id, re.compile(signature, re.IGNORECASE)))
        self._words = _Index(word_documents)
        self._grams = _Index([_grams(words) for words in word_documents])
        self._vocabulary = sorted(self._words.idf)

    def rank(self, text: str, *, limit: int = 5) -> list[Match]:
        """Return up to ``limit`` playbooks by descending score (scores above zero only)."""
        words = self._correct(normalize(text))
        best: dict[str, tuple[float, str]] = {}
        factor = 1.0 if _has_domain_term(words) else _NO_DOMAIN_FACTOR
        if words:
            word_scores = self._words.similarities(words)
            gram_scores = self._grams.similarities(_grams(words))
            for number in set(word_scores) | set(gram_scores):
                score = factor * (_WORD_WEIGHT * word_scores.get(number, 0.0) + _GRAM_WEIGHT * gram_scores.get(number, 0.0))
                owner = self._owners[number]
                if score > best.get(owner, (0.0, ""))[0]:
                    best[owner] = (score, "phrase")
        for owner, pattern in self._signatures:
            if pattern.search(text):
                score = max(best.get(owner, (0.0, ""))[0], SIGNATURE_SCORE)
                best[owner] = (min(score, 1.0), "signature")
        ranked = sorted((Match(owner, round(min(score, 1.0), 4), via) for owner, (score, via) in best.items()), key=lambda m: (-m.score, m.playbook_id))
        return ranked[:limit]

    def _correct(self, words: list[str]) -> list[str]:
        """Replace an unknown word by the closest vocabulary word: one edit away for words of 4-7
        letters, two for longer ones, where swapping two neighbours counts as one edit (OSA distance)."""
        corrected = []
        for word in words:
            if word in self._words.idf or len(word) < 4 or not self._vocabulary:
                corrected.append(word)
                continue
            limit = 2 if len(word) >= 8 else 1
            found = fuzzy_process.extractOne(word, self._vocabulary, scorer=OSA.distance, score_cutoff=limit)
            corrected.append(found[0] if found else word)
        return corrected
