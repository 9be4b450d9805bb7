# syntax=docker/dockerfile:1
# Build stage: wheels for the dependencies (their own cached layer), then for Shiplog itself.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml ./
# The dependencies and the postgres extra (asyncpg): one image serves SQLite and PostgreSQL.
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" > requirements.txt \
 && pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt
COPY README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Runtime stage: no compilers, a non-root user, the SQLite file on a volume.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/shiplog.db \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080
RUN useradd --create-home --uid 10001 shiplog && mkdir /data && chown shiplog:shiplog /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels "shiplog[postgres]" && rm -rf /wheels
USER shiplog
WORKDIR /home/shiplog
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8080'), timeout=4)"
# No init process: python is PID 1 and installs its own SIGTERM/SIGINT handlers (bot/cli.py), so
# `docker stop` gets a graceful stop (up to 10 s of draining) and exit 0, not a SIGKILL.
CMD ["python", "-m", "bot"]
