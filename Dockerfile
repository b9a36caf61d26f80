# scrapewatch daemon image.
#
# Build (BuildKit is needed for the pip CA secret; Debian's docker CLI uses the daemon's built-in BuildKit):
#   DOCKER_BUILDKIT=1 /usr/bin/docker build \
#       --secret id=pipcert,src=/etc/ssl/certs/ca-certificates.crt \
#       [--build-arg PIP_INDEX_URL=... --build-arg PIP_EXTRA_INDEX_URL=...] -t scrapewatch .
# The pipcert secret is for networks that intercept TLS: it is mounted for the pip steps only and never
# stored in a layer. Without it pip uses the image's own CA bundle.
#
# Run:
#   docker run -d -v scrapewatch-data:/data -p 127.0.0.1:9410:9410 scrapewatch
#
# No "# syntax=" line on purpose: it would pull a frontend image from a registry; the built-in
# Dockerfile frontend already supports RUN --mount.

ARG BASE_IMAGE=debian:bookworm-slim

# ---- python: Debian's interpreter, shared by the build stages -----------------------------------
FROM ${BASE_IMAGE} AS python

# Not pinned: bookworm's archive keeps only the current version of each package (chromium changes
# with every security update), so pins would break the build; the base suite pins the series.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# ---- requirements: just the dependency list, so edits elsewhere in pyproject.toml keep the cache --
FROM python AS requirements
COPY pyproject.toml /tmp/
RUN python3 -c 'import tomllib; print("\n".join(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"]))' \
    > /tmp/requirements.txt

# ---- build: a virtualenv with the dependencies, then the project --------------------------------
FROM python AS build

# The same package index the host uses, when it has a mirror configured (empty: pypi.org). Build args
# reach the RUN steps as environment variables and stay out of the final stage.
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=120

RUN python3 -m venv /opt/scrapewatch
WORKDIR /src

COPY --from=requirements /tmp/requirements.txt /tmp/
RUN --mount=type=secret,id=pipcert \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi \
    && /opt/scrapewatch/bin/pip install -r /tmp/requirements.txt

COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY spiders ./spiders
RUN --mount=type=secret,id=pipcert \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi \
    && /opt/scrapewatch/bin/pip install --no-deps . \
    && /opt/scrapewatch/bin/scrapewatch --help >/dev/null

# ---- runtime ----------------------------------------------------------------------------------
FROM ${BASE_IMAGE}

# chromium: Debian's browser for Playwright (no Playwright browser download here).
# libatomic1: needed by the node binary inside the playwright wheel (its driver).
# tini: PID 1 that forwards SIGTERM to the daemon and reaps chromium's children.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates chromium libatomic1 tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 scrapewatch \
    && useradd --system --uid 10001 --gid scrapewatch --home-dir /home/scrapewatch --create-home \
        --shell /usr/sbin/nologin scrapewatch \
    && mkdir /data \
    && chown scrapewatch:scrapewatch /data

COPY --from=build /opt/scrapewatch /opt/scrapewatch

ENV PATH=/opt/scrapewatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    PLAYWRIGHT_CHROMIUM_EXECUTABLE=/usr/bin/chromium \
    SCRAPEWATCH_STORAGE__DATA_DIR=/data \
    SCRAPEWATCH_HTTP__LISTEN=0.0.0.0:9410

# Numeric, so that runAsNonRoot-style checks can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /home/scrapewatch
VOLUME /data
EXPOSE 9410

# Follows SCRAPEWATCH_HTTP__LISTEN if the port is overridden; urlopen raises (exit 1) on non-2xx.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; port = os.environ.get('SCRAPEWATCH_HTTP__LISTEN', ':9410').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

ENTRYPOINT ["/usr/bin/tini", "--", "scrapewatch"]
CMD ["run"]
