"""The app manifest requests what the app uses: no more, no less."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.slack.app import COMMAND

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yaml"


def test_manifest_matches_the_listeners() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))

    assert [command["command"] for command in manifest["features"]["slash_commands"]] == [COMMAND]
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_mention", "message.channels", "message.groups"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(
        ["commands", "app_mentions:read", "chat:write", "channels:history", "groups:history", "channels:read", "groups:read", "users:read", "usergroups:read"]
    )
    assert "user" not in manifest["oauth_config"]["scopes"], "the bot needs no user token"
