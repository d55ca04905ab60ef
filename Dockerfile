# syntax=docker/dockerfile:1
# The one image every Kassa process runs: `kassa serve SERVICE`, `kassa worker`, `kassa migrate`.
#
#   docker build -t kassa .          (compose.yaml builds it as kassa:local)
#
# Two stages: the first installs the locked dependencies and Kassa's packages into a virtual
# environment with uv, compiling their bytecode; the second copies that environment alone onto
# the same slim Python, so uv, pip and the sources stay behind. Every dependency ships a binary
# wheel (asyncpg, uvloop, httptools, msgspec, cryptography): no compiler in either stage.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The uv the repository is locked with (./dev installs the same).
RUN pip install --no-cache-dir --disable-pip-version-check uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY . .
# --no-editable: Kassa's own packages are installed into the environment, not linked to /src.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin kassa \
    && mkdir -p /app/data && chown kassa:kassa /app/data
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KASSA_DATA_DIR=/app/data
WORKDIR /app
USER kassa
EXPOSE 8000
# Every service answers /healthz (alive) and /readyz (database and Redis reachable).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["kassa", "serve", "--host", "0.0.0.0", "--port", "8000"]
