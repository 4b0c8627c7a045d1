# syntax=docker/dockerfile:1
# One image for every matchgraph process: the API (default CMD), the arq
# worker (`matchgraph worker`) and one-off commands (`matchgraph demo`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the project from a scratch copy of its sources, then drop them, so
# the code that runs is the installed package (with its package data). The
# last step fails the build when the vendored GraphiQL assets did not make it
# into the installed package (they are package data, not modules).
COPY pyproject.toml README.md /tmp/src/
COPY api /tmp/src/api
COPY graph /tmp/src/graph
COPY jobs /tmp/src/jobs
RUN pip install /tmp/src \
    && rm -rf /tmp/src \
    && cd / && python -c "from api.graphiql import graphiql_html; graphiql_html()"

RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home \
        --shell /usr/sbin/nologin matchgraph \
    && mkdir -p /app/data /tmp/prometheus \
    && chown matchgraph:matchgraph /app/data /tmp/prometheus

WORKDIR /app
USER 10001:10001
ENV MATCHGRAPH_DATA_DIR=/app/data

EXPOSE 8000

# For the API only: the worker's container overrides or disables it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["matchgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
