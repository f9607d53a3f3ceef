"""libyaml's reading of playbooks matches ruamel.yaml's, or defers to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.config import REPO_PLAYBOOKS
from bot.errors import PlaybookError
from bot.playbooks.fast_yaml import parse_plain
from bot.playbooks.loader import _plain, load_file


def ruamel_plain(text: str):
    return _plain(YAML(typ="rt").load(text))


@pytest.mark.parametrize("path", sorted(REPO_PLAYBOOKS.glob("*.yaml")), ids=lambda path: path.stem)
def test_bundled_playbook_parses_as_ruamel(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    fast = parse_plain(text)

    assert fast is not None, "a bundled playbook should not need the slow parser"
    assert _plain(fast) == ruamel_plain(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: null\nb: ~\nc:\nd: true\ne: False\n",
        "a: 0\nb: -12\nc: +7\nd: 1.5\ne: -0.25e-3\nf: 2.0E+2\n",
        "a: 'yes'\nb: \"010\"\nc: \"text: with colon\"\nf: plain text, with comma\nd: |\n  line one\n  line two\ne: >\n  folded\n  text\n",
        "a: [1, two, 3.0]\nb: {c: d}\n1: one\n",
        "a: &anchor {x: 1}\nb: *anchor\n",
        "query: rate(x{code!=\"200\", path!~\"/health\"}[5m])\n",
    ],
)
def test_plain_scalars_read_as_ruamel(text: str) -> None:
    fast = parse_plain(text)

    assert fast is not None
    assert _plain(fast) == ruamel_plain(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: yes\n",  # bool in YAML 1.1, string in 1.2
        "a: on\n",
        "a: 010\n",  # octal in YAML 1.1
        "a: 1e3\n",  # float in YAML 1.2, string in 1.1
        "a: 1:30\n",  # sexagesimal int in YAML 1.1
        "a: 1_000\n",
        "a: 0x1F\n",
        "a: .inf\n",
        "a: 2026-12-04\n",
        "a: 1\na: 2\n",  # ruamel.yaml rejects duplicate keys
        "base: &base {x: 1}\nb:\n  <<: *base\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!str 12\n",  # ruamel.yaml builds a TaggedScalar
        "a: [!custom x]\n",
        "%YAML 1.1\n---\na: yes\n",
        "a: [unclosed\n",
        "? [a, b]\n: c\n",
    ],
)
def test_ambiguous_text_defers_to_ruamel(text: str) -> None:
    assert parse_plain(text) is None


def test_invalid_playbook_error_keeps_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = (REPO_PLAYBOOKS / "spanmetrics-missing.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("\nchecks:\n", "\nverb: POST\nchecks:\n", 1), encoding="utf-8")
    line = path.read_text(encoding="utf-8").splitlines().index("verb: POST") + 1

    with pytest.raises(PlaybookError, match=rf"bad.yaml:{line}: unknown key 'verb'"):
        load_file(path)
