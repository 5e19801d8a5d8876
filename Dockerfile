# syntax=docker/dockerfile:1
# The phone agent as a container image (docs/deploy.md):
#   docker build -t voice-agent .
#   docker run --env-file .env -p 8000:8000 --stop-timeout 660 voice-agent
# Two stages: the first installs the pinned runtime dependencies (requirements.txt only, no test or lint
# tools) into a virtualenv; the second is a clean slim image with that virtualenv and the code, run as a
# non-root user. Every dependency ships manylinux wheels, so no compiler is installed in either stage.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt


FROM ${PYTHON_IMAGE} AS runtime
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    ENVIRONMENT=production
# A fixed numeric uid/gid, so Kubernetes' `runAsNonRoot` can check it without a passwd lookup.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code stays owned by root: the app user can read it, not change it. (.dockerignore lets in only these.)
COPY app.py ./
COPY api ./api
COPY config ./config
COPY models ./models
COPY services ./services
COPY utils ./utils
COPY data/*.json ./data/
USER 10001:10001
# 8001: the media streams when STREAM_PORT=8001 is set (docs/deploy.md); unset, everything is on 8000.
EXPOSE 8000 8001

# Readiness, not liveness: /health is 503 while the database is unreachable and from SIGTERM on (the node
# drains). Plain Docker only reports "unhealthy"; an orchestrator that restarts unhealthy containers must
# probe /health/live instead, or it kills a draining node's calls. Python's urllib: no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=2)"]

# SIGTERM drains (app.py DrainingServer): /health turns 503, live calls go on for up to DRAIN_TIMEOUT_S
# (config/settings.py, default 600 s), then each remaining call is ended with a callback ticket and the
# process exits 0. The orchestrator's stop timeout must therefore EXCEED DRAIN_TIMEOUT_S plus a margin
# for the tickets and the final record writes (e.g. `docker run --stop-timeout 660`, compose
# `stop_grace_period: 11m`, Kubernetes `terminationGracePeriodSeconds: 660`); otherwise its SIGKILL
# cuts the live calls. Docker's default is 10 s.
STOPSIGNAL SIGTERM
# Exec form: python is PID 1 and receives the signal itself (no shell in between).
CMD ["python", "app.py"]
