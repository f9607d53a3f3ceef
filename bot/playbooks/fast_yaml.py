"""Parse a playbook with libyaml (PyYAML's C parser), reading plain scalars as ruamel.yaml does.

The loader's reference parser is ruamel.yaml in round-trip mode, which keeps the line of every
key for error messages. It is pure Python and parses the bundled playbooks about ten times
slower than libyaml: 0.27 s against 0.02 s for 15 files of 160 kB in all, measured on a 2-core
AMD EPYC with Python 3.11. Only an invalid playbook needs the line numbers, so valid files go
through libyaml.

ruamel.yaml reads YAML 1.2 and PyYAML reads YAML 1.1, and the two disagree on plain scalars
such as ``yes``, ``010``, ``1e3`` and ``1:30``. Here a plain scalar becomes a null, a bool, a
decimal int or a float only in the forms that mean the same in both; any other form that either
version would read as a non-string makes ``parse_plain`` return None, and the loader parses the
file with ruamel.yaml instead. So does anything else where the two might differ: duplicate
keys (ruamel.yaml rejects them), merge keys, explicit tags, a ``%YAML`` directive and any
syntax error.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from ruamel.yaml.resolver import implicit_resolvers

__all__ = ["parse_plain"]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+]?[0-9]+)?$")
# Every pattern by which YAML 1.1 or 1.2 reads a plain scalar as something other than a string,
# by the first characters it can match ("" for the empty scalar).
_TYPED_BY_FIRST: dict[str, list[Any]] = {}
for _versions, _tag, _regexp, _first in implicit_resolvers:
    for _char in _first:
        _TYPED_BY_FIRST.setdefault(_char, []).append(_regexp)
_DIRECTIVE = re.compile(r"^%", re.MULTILINE)
# Text that may hold an explicit tag (``!!str``, ``!local``, ``!<tag:...>``), which ruamel.yaml
# keeps as a tagged object. JMESPath such as ``!contains(...)`` matches too, so the parser's
# events decide.
_MAYBE_TAG = re.compile(r"![!<\w]")
_CORE_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map"))

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"
_AMBIGUOUS_TAG = "tag:otelbot,2026:ambiguous"


class _Ambiguous(Exception):
    """The text may mean something else to ruamel.yaml; parse it with ruamel.yaml instead."""


if yaml.__with_libyaml__:

    class _Loader(yaml.CSafeLoader):
        """libyaml's parser with YAML 1.2 plain scalars, strict about what ruamel.yaml would read differently."""

        def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
            if kind is not yaml.ScalarNode:
                return super().resolve(kind, value, implicit)
            typed = _TYPED_BY_FIRST.get(value[:1]) if implicit[0] else None
            if not typed:
                return _STR_TAG
            for pattern, tag in ((_NULL, _NULL_TAG), (_BOOL, _BOOL_TAG), (_INT, _INT_TAG), (_FLOAT, _FLOAT_TAG)):
                if pattern.match(value):
                    return tag
            if any(pattern.match(value) for pattern in typed):
                return _AMBIGUOUS_TAG
            return _STR_TAG

        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            if node.tag not in _CORE_TAGS:
                raise _Ambiguous(node.tag)
            return super().construct_object(node, deep=deep)

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            keys = [self.construct_object(key_node, deep=True) for key_node, _ in node.value]
            if len(keys) != len(set(keys)):
                raise _Ambiguous("duplicate key")
            return super().construct_mapping(node, deep=deep)

else:
    _Loader = None


def parse_plain(text: str) -> Any | None:
    """Return the plain data (dicts, lists, strings, numbers) of ``text``, or None to parse it with ruamel.yaml.

    The result is meant to equal what the loader builds from ruamel.yaml's round-trip tree;
    tests/unit/test_fast_yaml.py compares the two on the bundled playbooks and on edge cases.
    """
    if _Loader is None or _DIRECTIVE.search(text):
        return None
    if _MAYBE_TAG.search(text) and _has_explicit_tag(text):
        return None

    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except (_Ambiguous, yaml.YAMLError, TypeError):
        # TypeError: an unhashable key (a mapping or a list), which ruamel.yaml reports its own way.
        return None
    finally:
        loader.dispose()


def _has_explicit_tag(text: str) -> bool:
    try:
        return any(getattr(event, "tag", None) not in (None, "!") for event in yaml.parse(text, Loader=_Loader))
    except yaml.YAMLError:
        return True
