# syntax=docker/dockerfile:1
# Multi-stage build: uv resolves and installs the locked dependencies into a
# virtualenv in the builder; the runtime image gets only that virtualenv and
# the source, runs as an unprivileged user, and checks its own health.

FROM python:3.11-slim-bookworm AS builder
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /uvx /usr/local/bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first (cached layer), then the project itself.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system payments && useradd --system --gid payments --home /app payments
WORKDIR /app
COPY --from=builder --chown=payments:payments /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PAYMENTS_HOST=0.0.0.0 \
    PAYMENTS_PORT=8080 \
    PAYMENTS_DATA_DIR=/app/data
USER payments
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status == 200 else 1)"
# Production: PAYMENTS_DATABASE_URL and the secrets come from the environment.
# Scale out with several API replicas (PAYMENTS_RUN_WORKERS=0) and one or more
# `payments worker` containers.
CMD ["payments", "serve"]
