"""``{name}`` placeholders in playbook strings, filled from settings and run inputs.

Only ``{word}`` and ``{word.word}`` are placeholders; ``{{`` and ``}}`` stand for literal braces.
There is no attribute access or expression evaluation, so a playbook cannot reach into objects.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PLACEHOLDER", "placeholders", "render", "render_tree", "variables_from"]

PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)\}(?!\})")


def placeholders(text: str) -> set[str]:
    """Return the placeholder names used in ``text``."""
    return set(PLACEHOLDER.findall(text))


def render(text: str, variables: dict[str, str]) -> str:
    """Fill the placeholders of ``text``; raises KeyError naming the first unknown one."""
    def fill(match: re.Match[str]) -> str:
        return variables[match.group(1)]

    return PLACEHOLDER.sub(fill, text).replace("{{", "{").replace("}}", "}")


def render_tree(value: Any, variables: dict[str, str]) -> Any:
    """Fill placeholders in every string inside ``value`` (dicts, lists, strings)."""
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, list):
        return [render_tree(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: render_tree(item, variables) for key, item in value.items()}
    return value


def variables_from(namespace: str, targets: dict[str, dict[str, str]], inputs: dict[str, str]) -> dict[str, str]:
    """Flatten the namespace, the targets of settings and the run's inputs into one mapping."""
    variables = {"namespace": namespace}
    for target, names in targets.items():
        for key, value in names.items():
            variables[f"{target}.{key}"] = value
    variables.update(inputs)
    return variables
