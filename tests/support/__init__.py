"""Helpers the tests share: real Prometheus processes and edits to the sandbox stack."""
