# syntax=docker/dockerfile:1
# The Experience Plane API: multi-stage, slim, non-root.

# GraphiQL's assets, from the npm registry through the committed lockfile (integrity-checked).
FROM node:20-slim AS graphiql
WORKDIR /build/web/graphiql
COPY web/graphiql/package.json web/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/graphiql/build.mjs ./
COPY web/graphiql/src ./src
# Writes /build/src/experience_plane/graphiql/static, as in a checkout.
RUN npm run build

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=graphiql /build/src/experience_plane/graphiql/static ./src/experience_plane/graphiql/static
RUN /opt/venv/bin/pip install --no-compile .

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    EXPERIENCE_HOST=0.0.0.0 \
    EXPERIENCE_PORT=8000 \
    EXPERIENCE_DATA_DIR=/var/lib/experience-plane
# The data directory holds the execution index when no Redis is configured: mount a volume
# there to keep the list of executions across containers.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/experience-plane \
    && chown 10001:10001 /var/lib/experience-plane
VOLUME ["/var/lib/experience-plane"]
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('EXPERIENCE_PORT', '8000')}/healthz\", timeout=2)"]
ENTRYPOINT ["experience-plane"]
CMD ["serve"]
