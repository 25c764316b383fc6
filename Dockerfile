# SmartLink Provisioning API, run as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    SMARTLINK_DATA_DIR=/data

RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --system --uid 10001 --home-dir /app smartlink \
    && mkdir -p /data /app \
    && chown smartlink /data

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY api ./api
COPY domain ./domain
COPY jobs ./jobs
RUN uv sync --frozen --no-dev

USER smartlink
VOLUME ["/data"]
EXPOSE 8000
ENV PATH="/opt/venv/bin:$PATH"
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["smartlink", "serve", "--host", "0.0.0.0", "--port", "8000"]
