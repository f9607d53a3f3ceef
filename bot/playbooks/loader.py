"""Load playbook YAML files into validated models, with file and line on every error.

Valid files are parsed with libyaml (``fast_yaml``). A file that fails validation, or that
libyaml might read differently, is parsed again with ruamel.yaml, whose tree keeps the line of
every key, so the error can point at the line of the offending key. ``lint`` collects every
problem of a set of files instead of stopping at the first, and also checks what a single file
cannot show: duplicate ids and unknown {placeholders}.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from bot.checks import KINDS
from bot.errors import PlaybookError
from bot.playbooks.fast_yaml import parse_plain
from bot.playbooks.schema import Playbook
from bot.playbooks.template import placeholders

__all__ = ["LoadedPlaybook", "PlaybookSet", "lint", "load_file", "load_playbooks", "playbook_files"]

logger = logging.getLogger(__name__)

_LANG_NAMES = {"ko": "Korean", "en": "English"}


@dataclass(frozen=True)
class LoadedPlaybook:
    """A validated playbook and the file it came from."""

    playbook: Playbook
    path: Path


@dataclass
class PlaybookSet:
    """The playbooks in use, by id."""

    by_id: dict[str, LoadedPlaybook] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.by_id)

    def __iter__(self):
        return (loaded.playbook for loaded in self.by_id.values())

    def get(self, playbook_id: str) -> Playbook | None:
        loaded = self.by_id.get(playbook_id)
        return loaded.playbook if loaded else None

    def ids(self) -> list[str]:
        return sorted(self.by_id)


def playbook_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into their ``*.yaml``/``*.yml`` files, sorted; keep files as given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            files.append(path)
    return files


def load_file(path: Path) -> Playbook:
    """Parse and validate one playbook file; raises PlaybookError with the file and line."""
    data = parse_plain(_read(path))
    if isinstance(data, dict):
        try:
            return Playbook.model_validate(_plain(data))
        except ValidationError:
            pass  # parsed again below with ruamel.yaml, for the line of the error

    tree = _parse_yaml(path)
    try:
        return Playbook.model_validate(_plain(tree))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc += ("kind",)
        line = _line_of(tree, loc)
        raise PlaybookError(_describe(error), path=str(path), line=line) from exc


def load_playbooks(dirs: Iterable[Path], *, known_variables: set[str]) -> PlaybookSet:
    """Load every playbook under ``dirs``; a later directory's playbook replaces an earlier one.

    Raises PlaybookError listing every problem found, so one bad file is reported with all others.
    """
    problems: list[PlaybookError] = []
    loaded = PlaybookSet()
    for directory in dirs:
        if not directory.is_dir():
            problems.append(PlaybookError("playbook directory not found; fix playbooks.dirs in the config", path=str(directory)))
            continue
        seen_here: dict[str, Path] = {}
        for path in playbook_files([directory]):
            try:
                playbook = load_file(path)
            except PlaybookError as exc:
                problems.append(exc)
                continue
            if playbook.id in seen_here:
                problems.append(PlaybookError(f"duplicate playbook id {playbook.id!r}, also in {seen_here[playbook.id]}", path=str(path), line=_id_line(path)))
                continue
            seen_here[playbook.id] = path
            problems.extend(_placeholder_problems(playbook, path, known_variables))
            if playbook.id in loaded.by_id:
                logger.info("playbook %s from %s replaces %s", playbook.id, path, loaded.by_id[playbook.id].path)
            loaded.by_id[playbook.id] = LoadedPlaybook(playbook, path)
    if problems:
        raise PlaybookError("invalid playbooks:\n  " + "\n  ".join(str(problem) for problem in problems))
    return loaded


def lint(paths: Iterable[Path], *, known_variables: set[str]) -> tuple[list[Playbook], list[PlaybookError]]:
    """Validate files or directories; return the valid playbooks and every problem found."""
    problems: list[PlaybookError] = []
    valid: list[Playbook] = []
    ids: dict[str, Path] = {}
    for path in playbook_files(paths):
        try:
            playbook = load_file(path)
        except PlaybookError as exc:
            problems.append(exc)
            continue
        if playbook.id in ids:
            problems.append(PlaybookError(f"duplicate playbook id {playbook.id!r}, also in {ids[playbook.id]}", path=str(path), line=_id_line(path)))
            continue
        ids[playbook.id] = path
        found = _placeholder_problems(playbook, path, known_variables)
        problems.extend(found)
        if not found:
            valid.append(playbook)
    return valid, problems


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookError(f"cannot read file: {exc.strerror}", path=str(path)) from exc


def _parse_yaml(path: Path) -> Any:
    yaml = YAML(typ="rt")
    text = _read(path)
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise PlaybookError(f"invalid YAML: {exc.problem}", path=str(path), line=line) from exc
    if not isinstance(tree, CommentedMap):
        raise PlaybookError("a playbook file must contain one mapping at the top level", path=str(path), line=1)
    return tree


def _plain(node: Any) -> Any:
    """Convert a parsed tree (ruamel.yaml's or libyaml's) to dicts with string keys, lists and plain scalars."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, str):
        return str(node)
    return node


def _line_of(tree: Any, loc: tuple[Any, ...]) -> int | None:
    """Return the 1-based line of the deepest node of ``loc`` present in the parsed tree."""
    node = tree
    line = 1
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
    return line


def _describe(error: dict[str, Any]) -> str:
    loc = [part for part in error["loc"] if not (isinstance(part, str) and part in KINDS)]
    where = ".".join(str(part) for part in loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r} at {where}; remove it or check its spelling"
    if kind == "missing":
        field = str(loc[-1])
        if field in _LANG_NAMES:
            return f"missing {_LANG_NAMES[field]} text at {where}; every user-facing text needs ko and en"
        return f"missing required key {field!r} at {where}"
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        return f"unknown check kind {tag!r} at {where}; known kinds: {', '.join(KINDS)}"
    if kind == "union_tag_not_found":
        return f"missing key 'kind' at {where}; known kinds: {', '.join(KINDS)}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _id_line(path: Path) -> int | None:
    tree = _parse_yaml(path)
    return tree.lc.key("id")[0] + 1 if "id" in tree else None


def _placeholder_problems(playbook: Playbook, path: Path, known_variables: set[str]) -> list[PlaybookError]:
    known = known_variables | {item.name for item in playbook.inputs}
    problems: list[PlaybookError] = []
    texts: list[tuple[str, str]] = []
    for check in playbook.checks:
        texts.extend((f"checks.{check.id}", text) for text in _strings(check.template_fields()))
        texts.append((f"checks.{check.id}.title", check.title.ko + check.title.en))
    for cause in playbook.causes:
        texts.append((f"causes.{cause.id}.patch.path", cause.patch.path))
        texts.append((f"causes.{cause.id}.patch.content", cause.patch.content))
        if cause.patch.note is not None:
            texts.append((f"causes.{cause.id}.patch.note", cause.patch.note.ko + cause.patch.note.en))
        texts.extend((f"causes.{cause.id}.verify", command) for command in cause.verify)
    texts.extend(("commands", command) for command in playbook.commands)

    # One problem per unknown name, at the first line that uses it: a misspelt name is often
    # repeated across commands and verify steps.
    unknown: dict[str, list[str]] = {}
    for where, text in texts:
        for name in sorted(placeholders(text) - known):
            places = unknown.setdefault(name, [])
            if where not in places:
                places.append(where)
    if not unknown:
        return []

    lines = _read(path).splitlines()
    for name, places in unknown.items():
        numbers = [number for number, line in enumerate(lines, start=1) if f"{{{name}}}" in line]
        also = f" (also on lines {', '.join(map(str, numbers[1:]))})" if len(numbers) > 1 else ""
        close = difflib.get_close_matches(name, known, n=1)
        fix = f"did you mean {{{close[0]}}}?" if close else f"known: {', '.join(sorted(known))}."
        problems.append(
            PlaybookError(
                f"unknown placeholder {{{name}}} in {', '.join(places)}{also}; {fix} Write {{{{ and }}}} for literal braces.",
                path=str(path),
                line=numbers[0] if numbers else None,
            )
        )
    return problems


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
