"""Rendering of diagnoses: plain text for the CLI, JSON for machines, Block Kit for Slack."""
