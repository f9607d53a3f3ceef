"""Both languages say the same things."""

from __future__ import annotations

import string

from bot.i18n import _catalog


def test_catalogs_have_same_keys() -> None:
    korean = set(_catalog("ko"))
    english = set(_catalog("en"))

    assert korean - english == set(), "keys only in ko.yaml"
    assert english - korean == set(), "keys only in en.yaml"


def test_catalogs_use_same_fields() -> None:
    formatter = string.Formatter()
    korean = _catalog("ko")
    english = _catalog("en")
    for key, text in english.items():
        english_fields = {field for _, field, _, _ in formatter.parse(text) if field}
        korean_fields = {field for _, field, _, _ in formatter.parse(korean[key]) if field}
        assert korean_fields == english_fields, f"{key}: ko uses {korean_fields}, en uses {english_fields}"
