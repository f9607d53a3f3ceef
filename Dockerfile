# syntax=docker/dockerfile:1
# otelbot container image: `otelbot serve` as a non-root user on a read-only root filesystem.
#
#   docker build -t REGISTRY/otelbot:0.1.0 .
#
# The build stage installs the pinned dependencies from requirements.lock (pip-compile output)
# and then otelbot itself without resolving again, so the image gets exactly the locked versions.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY requirements.lock ./
RUN pip install --no-deps --requirement requirements.lock

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-deps . \
    && pip check


FROM ${PYTHON_IMAGE} AS runtime

# The extra playbook directory is empty in the image; the Helm chart mounts a ConfigMap over it.
# A playbook there replaces a built-in one with the same id.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    OTELBOT_PLAYBOOKS__DIRS='["/app/playbooks","/etc/otelbot/playbooks"]' \
    OTELBOT_QUERIES__FILE=/app/queries/queries.yaml

RUN groupadd --system --gid 10001 otelbot \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin otelbot \
    && mkdir -p /etc/otelbot/playbooks

COPY --from=build /opt/venv /opt/venv
COPY playbooks /app/playbooks
COPY queries /app/queries

WORKDIR /app
USER 10001:10001
EXPOSE 3000

# Kubernetes ignores HEALTHCHECK and uses the chart's probes; this serves `docker run` and Compose.
# It reads the port from OTELBOT_SLACK__PORT, so a port set only in the settings file is not seen.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('OTELBOT_SLACK__PORT', '3000') + '/healthz', timeout=4)"]

ENTRYPOINT ["otelbot", "serve"]
