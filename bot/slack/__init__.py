"""The Slack app: ``/otel``, mentions, incident channels and the report buttons.

The only package that imports slack_bolt and slack_sdk. ``serve`` runs it; ``SlackService`` is
the running app of one replica.
"""

from bot.slack.server import SlackService, check_credentials, serve

__all__ = ["SlackService", "check_credentials", "serve"]
