"""Rank playbooks for a symptom phrase or a pasted log line.

Text is normalised first: lower case, Korean particles cut from the end of words, and the field's
terms mapped to one spelling in both languages (스팬 메트릭, span metrics and spanmetrics all become
``spanmetrics``), so a Korean question can match an English phrase. Words the vocabulary does not
know are corrected to the closest known word when they are close enough (typos).

The score of a playbook mixes two TF-IDF cosine similarities, each over words and character
trigrams: with its best single phrase, and with all its phrases together. Features are weighted
by how few playbooks use them. The score is then damped for a message that names no part of the
stack or reports no problem. A matching signature regex scores at least ``SIGNATURE_SCORE``.
Scores are in [0, 1].
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from rapidfuzz import process as fuzzy_process
from rapidfuzz.distance import OSA

from bot.playbooks.schema import Playbook

__all__ = ["Match", "Matcher", "SIGNATURE_SCORE", "normalize"]

SIGNATURE_SCORE = 0.9
_WORD_WEIGHT = 0.6
_GRAM_WEIGHT = 0.4
# Share of the score from the best single phrase; the rest comes from the playbook's whole vocabulary.
_PHRASE_WEIGHT = 0.6

# Longest first, so 에서는 is cut before 는.
_PARTICLES = sorted(
    ["이", "가", "은", "는", "을", "를", "에", "에서", "에서는", "에는", "으로", "로", "와", "과", "의", "도", "만",
     "이랑", "랑", "까지", "부터", "이나", "나", "이요", "요", "이에요", "예요", "인데", "인데요", "이야", "야",
     "끼리", "간", "별", "마다"],
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
    "커넥션 리퓨즈드": "connrefused", "커넥션 거부": "connrefused",
    "context propagation": "propagation", "컨텍스트 전파": "propagation",
    "label_values": "labelvalues", "label values": "labelvalues",
    # Coming and going (the service graph's store), as opposed to never there.
    "나왔다 안 나왔다": "intermittent", "나왔다안나왔다": "intermittent", "됐다 안됐다": "intermittent",
    "됐다안됐다": "intermittent", "보였다 안 보였다": "intermittent", "보였다가": "intermittent", "깜빡": "intermittent",
    "간헐": "intermittent", "사라졌다": "intermittent", "사라졌다가": "intermittent", "사라져": "intermittent",
    "사라지": "intermittent", "가끔": "intermittent", "들쭉날쭉": "intermittent", "중간중간": "intermittent",
    "flicker": "intermittent", "flickers": "intermittent", "flickering": "intermittent", "disappear": "intermittent",
    "disappears": "intermittent", "disappearing": "intermittent", "dissapear": "intermittent", "dissapearing": "intermittent", "come and go": "intermittent",
    "comes and goes": "intermittent", "on and off": "intermittent", "flapping": "intermittent", "sometimes": "intermittent",
    "의존성 그래프": "servicegraph", "dependency graph": "servicegraph", "의존 관계 그래프": "servicegraph",
    "bad gateway": "badgateway", "배드 게이트웨이": "badgateway",
    # Spans of one request that do not join up across services.
    "parent-child": "parentspan", "parent child": "parentspan", "부모 자식": "parentspan", "부모-자식": "parentspan",
    "부모 스팬": "parentspan", "부모스팬": "parentspan", "parent span": "parentspan", "root span not yet received": "parentspan",
    "트레이스 아이디가 바뀌": "propagation", "trace id changes": "propagation", "traceparent": "propagation",
    "not linked": "propagation", "aren't linked": "propagation", "연결되지 않": "propagation", "연결이 안": "propagation",
    "별도 트레이스": "propagation", "separate traces": "propagation", "single service": "propagation",
    # The whole backend rather than one service.
    "모든 서비스": "allservices", "전체 서비스": "allservices", "all services": "allservices", "any service": "allservices",
    "every service": "allservices", "아무 서비스": "allservices",
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
    "generator": "metricsgenerator", "제너레이터": "metricsgenerator", "sigv4auth": "auth", "ctx": "context",
    "컨텍스트": "context", "트레이서": "tracer", "오텔": "otel", "헬름": "helm", "데이타소스": "datasource", "데이터소스": "datasource",
    "워터폴": "waterfall", "그룹핑": "grouping", "그룹화": "grouping", "grouping": "grouping", "group": "grouping",
    "경로": "route", "라우트": "route", "routes": "route", "엔드포인트별": "endpoint", "초기화": "initialization",
    "initialize": "initialization", "initialized": "initialization", "init": "initialization", "inittracer": "initialization",
    "이어져": "linked", "이어지": "linked", "연결": "linked", "linked": "linked", "joined": "linked", "joining": "linked",
    "레이블이": "label", "라벨이": "label", "메트릭스": "metric", "폴더": "folder", "folders": "folder",
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
    "spanmetrics servicegraph remotewrite datasource metricsgenerator propagation labelvalues "
    "trace span metric dashboard prometheus tempo grafana collector histogram latency variable dropdown template "
    "label dimension provisioning exporter pipeline connector otel otlp opentelemetry otelhttp "
    "otelgorm redisotel sigv4auth aps amp promql query series 4317 4318 9090 3200 8888 grpc receiver "
    "unit ms seconds p95 p99 edge graph endpoint instrumentation sdk tracer context traceparent calls_total "
    "duration_seconds_bucket api/v1/write traceql explore loki parentspan gorm otelgorm tracer waterfall helm ttl max_items".split()
)
_NO_DOMAIN_FACTOR = 0.5
# Words that report a problem. A message with none of them (a notice, praise, a question about
# plans) is damped, and one that reads as an announcement or a thank-you is damped further.
_PROBLEM_CUES = re.compile(
    r"안(?!녕|내|정|전|쪽|에서)\s?[가-힣]|없|비어|빈 |비었|실패|에러|오류|못 ?|깨|끊|사라|깜빡|이상|크게|커요|큼|너무|느려|"
    r"누락|거부|초과|드롭|빠져|빠진|왜|틀|잘못|나왔다|됐다|뻥튀기|말이 안|말도 안|말이 되|문제|멈|죽|안됨|안돼|"
    r"\b(no|not|missing|empty|error|errors|err|fail|failed|failing|failure|refused|unauthorized|denied|forbidden|timeout|"
    r"timed out|cannot|can't|doesn't|don't|isn't|aren't|won't|broken|disappear\w*|flicker\w*|intermittent\w*|flapping|"
    r"wrong|drop\w*|why|nothing|blank|zero|huge|absurd|weird|stale|gaps?|unable|never|stopped|only|lost|lose|off by|"
    r"invalid|unknown|mismatch|too|exceeded|full|crash\w*|warn\w*|retry\w*|keeps|bad gateway|401|403|404|500|502|503|504)\b",
    re.IGNORECASE,
)
_NOT_A_REPORT = re.compile(
    r"(공지|스터디|리뷰 부탁|머지했|올렸어요|만들었어요|만들엇어요|늘렸어요|참고하세요|예쁘게|잘 나오|잘 보이|잘 돼|감사|고마워|"
    r"정리해|위키|문서|요청드립니다|추가 요청|편하네요|구경|(하는|만드는|쓰는|보는) ?법|방법|아시는 ?분|"
    r"\b(fyi|pr|merged|review|announcement|thanks|thank you|looks good|works now|fixed now|resolved|kudos|deploying|upgrading|"
    r"scheduled|is live|wiki|docs|how (do|to|can) (i|we|you)|anyone know)\b)",
    re.IGNORECASE,
)
_NO_PROBLEM_FACTOR = 0.7
_NOT_A_REPORT_FACTOR = 0.35
_SPLIT = re.compile(r"[^0-9a-z가-힣_.]+")


def _term_regex(term: str) -> str:
    """Match Korean terms anywhere (endings attach without spaces) and English terms as whole words."""
    if term.isascii():
        return rf"(?<![a-z0-9_]){re.escape(term)}(?![a-z0-9_])"
    return re.escape(term)


_TERM_PATTERN = re.compile("|".join(_term_regex(term) for term in sorted(_TERMS, key=len, reverse=True)))
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
        word = _canonical(word)
        if word in _STOPWORDS:
            continue
        words.append(word)
        # traces_spanmetrics_calls_total and gorm.query also count as their parts.
        parts = [part for part in re.split(r"[._]", word) if len(part) > 1 and part not in _STOPWORDS]
        if len(parts) > 1:
            words.extend(_WORDS.get(part, part) for part in parts)
    return words


def _context_factor(text: str, words: list[str]) -> float:
    """Damp messages that are not about the stack or do not report a problem with it."""
    factor = 1.0 if _has_domain_term(words) else _NO_DOMAIN_FACTOR
    if _PROBLEM_CUES.search(text):
        return factor
    if _NOT_A_REPORT.search(text):
        return factor * _NOT_A_REPORT_FACTOR
    return factor * _NO_PROBLEM_FACTOR


def _has_domain_term(words: list[str]) -> bool:
    return any(word in _DOMAIN or word.startswith(("traces_", "otelcol_", "otel_", "http.", "db.")) for word in words)


def _canonical(word: str) -> str:
    """Map a word to the field's term, trying it whole first so 그라파나 keeps its last syllable."""
    if word in _WORDS or word in _TERMS:
        return _WORDS.get(word, _TERMS.get(word, word))
    stripped = _strip_particle(word)
    return _WORDS.get(stripped, _TERMS.get(stripped, stripped))


def _merge_terms(words: list[str]) -> list[str]:
    """Join neighbours that spell a two-word term once typos are corrected (remote write)."""
    merged: list[str] = []
    for word in words:
        if merged and f"{merged[-1]} {word}" in _TERMS:
            merged[-1] = _TERMS[f"{merged[-1]} {word}"]
        else:
            merged.append(word)
    return merged


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
    """An inverted TF-IDF index over one kind of feature (words or trigrams), scored with numpy."""

    def __init__(self, documents: list[list[str]], idf: dict[str, float]) -> None:
        self.idf = idf
        self.size = len(documents)
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for number, document in enumerate(documents):
            for feature, weight in self.vector(document).items():
                numbers, weights = postings[feature]
                numbers.append(number)
                weights.append(weight)
        self.postings = {
            feature: (np.asarray(numbers, dtype=np.int32), np.asarray(weights, dtype=np.float32))
            for feature, (numbers, weights) in postings.items()
        }

    def vector(self, features: list[str]) -> dict[str, float]:
        counts = Counter(features)
        vector = {feature: (1 + math.log(count)) * self.idf.get(feature, 0.0) for feature, count in counts.items()}
        norm = math.sqrt(sum(weight * weight for weight in vector.values())) or 1.0
        return {feature: weight / norm for feature, weight in vector.items() if weight}

    def similarities(self, features: list[str]) -> np.ndarray:
        """Return the cosine similarity of ``features`` with every document."""
        numbers, weights = [], []
        for feature, weight in self.vector(features).items():
            posting = self.postings.get(feature)
            if posting is not None:
                numbers.append(posting[0])
                weights.append(posting[1] * weight)
        if not numbers:
            return np.zeros(self.size, dtype=np.float64)
        return np.bincount(np.concatenate(numbers), weights=np.concatenate(weights), minlength=self.size)


def _idf(bags: list[list[str]]) -> dict[str, float]:
    """Weigh features by how few playbooks use them: words every playbook shares carry little."""
    frequency = Counter(feature for bag in bags for feature in set(bag))
    total = len(bags)
    return {feature: math.log((1 + total) / (1 + count)) + 1.0 for feature, count in frequency.items()}


class Matcher:
    """Ranks playbooks for a text; build once per playbook set, then call ``rank``."""

    def __init__(self, playbooks: Iterable[Playbook]) -> None:
        self._ids: list[str] = []
        owners: list[int] = []
        phrases: list[list[str]] = []
        bags: list[list[str]] = []
        self._signatures: list[tuple[int, re.Pattern[str]]] = []
        for playbook in playbooks:
            owner = len(self._ids)
            self._ids.append(playbook.id)
            texts = [*playbook.symptoms.ko, *playbook.symptoms.en, playbook.title.ko, playbook.title.en]
            words = [normalize(text) for text in texts]
            phrases.extend(words)
            owners.extend([owner] * len(words))
            bags.append([word for phrase in words for word in phrase])
            for signature in playbook.signatures:
                self._signatures.append((owner, re.compile(signature, re.IGNORECASE)))
        self._owners = np.asarray(owners, dtype=np.int32)
        word_idf = _idf(bags)
        gram_idf = _idf([_grams(bag) for bag in bags])
        self._phrase_words = _Index(phrases, word_idf)
        self._phrase_grams = _Index([_grams(words) for words in phrases], gram_idf)
        self._bag_words = _Index(bags, word_idf)
        self._bag_grams = _Index([_grams(bag) for bag in bags], gram_idf)
        spelled = {part for term in _TERMS for part in term.split() if part.isascii() and len(part) >= 4}
        spelled |= {word for word in _WORDS if word.isascii() and len(word) >= 4}
        self._vocabulary = sorted(set(word_idf) | spelled)

    def rank(self, text: str, *, limit: int = 5) -> list[Match]:
        """Return up to ``limit`` playbooks by descending score (scores above zero only)."""
        count = len(self._ids)
        if count == 0:
            return []
        words = self._correct(normalize(text))
        scores = np.zeros(count, dtype=np.float64)
        if words:
            grams = _grams(words)
            phrase = _WORD_WEIGHT * self._phrase_words.similarities(words) + _GRAM_WEIGHT * self._phrase_grams.similarities(grams)
            best_phrase = np.zeros(count, dtype=np.float64)
            np.maximum.at(best_phrase, self._owners, phrase)
            bag = _WORD_WEIGHT * self._bag_words.similarities(words) + _GRAM_WEIGHT * self._bag_grams.similarities(grams)
            scores = _PHRASE_WEIGHT * best_phrase + (1 - _PHRASE_WEIGHT) * bag
            scores *= _context_factor(text, words)
        via = ["phrase"] * count
        for owner, pattern in self._signatures:
            if pattern.search(text):
                # A signature outranks phrases; between two signatures the better phrase score wins.
                scores[owner] = max(scores[owner], SIGNATURE_SCORE + (1 - SIGNATURE_SCORE) * min(scores[owner], 1.0))
                via[owner] = "signature"
        order = np.argsort(-scores, kind="stable")[:limit]
        return [Match(self._ids[index], round(float(min(scores[index], 1.0)), 4), via[index]) for index in order if scores[index] > 0]

    def _correct(self, words: list[str]) -> list[str]:
        """Replace an unknown word by the closest vocabulary word: one edit away for words of 4-7
        letters, two for longer ones, where swapping two neighbours counts as one edit (OSA distance)."""
        corrected = []
        for word in words:
            identifier = any(char.isdigit() or char in "._" for char in word)
            if word in self._phrase_words.idf or len(word) < 4 or identifier or not self._vocabulary:
                corrected.append(word)
                continue
            limit = 2 if len(word) >= 8 else 1
            found = fuzzy_process.extractOne(word, self._vocabulary, scorer=OSA.distance, score_cutoff=limit)
            corrected.append(_canonical(found[0]) if found else word)
        return _merge_terms(corrected)
