"""otelbot: a Slack ChatOps bot that diagnoses an OpenTelemetry monitoring stack on Kubernetes."""

__version__ = "0.1.0"
