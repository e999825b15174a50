# syntax=docker/dockerfile:1
# The journeys image: one image, four roles (`api` by default; `worker`, `migrate`, `codec-server`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 journeys \
    && useradd --system --uid 10001 --gid journeys --home-dir /app --shell /usr/sbin/nologin journeys

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the source, installed without touching the dependencies again.
COPY . .
RUN pip install --no-deps . \
    && rm -rf build *.egg-info \
    && mkdir -p /app/.data \
    && chown journeys:journeys /app/.data

USER journeys

EXPOSE 8000

# Meant for the `api` role (compose disables it for the others); /health is 503 while PostgreSQL or
# Temporal does not answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('JOURNEYS_API_PORT', '8000') + '/health', timeout=4)"]

ENTRYPOINT ["journeys"]
CMD ["api", "--host", "0.0.0.0"]
