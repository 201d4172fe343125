# WhatsApp Gateway production image: multi-stage, slim, non-root.
#   docker build -t whatsapp-gateway .
#   docker compose up -d            (see docker-compose.yml and README "Production")
# The same image runs every process kind: `web` (gunicorn), `worker` (Huey), `migrate`, `rotate-keys`, `manage …`.

# --- builder: compile wheels for the package and its pinned dependencies ------------------------------------------
FROM python:3.13-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libffi-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

# --- runtime: only the installed wheels, no compilers, no source tree --------------------------------------------
FROM python:3.13-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GATEWAY_DATA_DIR=/var/lib/whatsapp-gateway \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000 \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /var/lib/whatsapp-gateway --shell /usr/sbin/nologin gateway \
 && mkdir -p /var/lib/whatsapp-gateway /tmp/metrics \
 && chown -R gateway:gateway /var/lib/whatsapp-gateway /tmp/metrics
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels whatsapp-gateway \
 && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/whatsapp-gateway
# Static files are served by WhiteNoise straight from the installed package (no collectstatic step).
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_PORT', '8000'), timeout=2)"]
ENTRYPOINT ["whatsapp-gateway"]
CMD ["web"]
