# syntax=docker/dockerfile:1
# Digit Knower: one image for the web page (default), the REST API and the migrations.
#   docker build -t digit-knower .
#   docker run -p 8501:8501 digit-knower                     # web page, embedded SQLite
#   docker run -p 8000:8000 digit-knower api --workers 2     # REST API
#   docker run -e DATABASE_URL=... digit-knower db upgrade   # migrations
# It serves with ONNX Runtime and never carries torch: the venv holds the project's
# base dependencies from pyproject.toml and nothing else (tests/test_deploy.py checks that).

# ---- builder: a wheel of the project, installed with its pinned base dependencies ----
FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv

# README.md is part of the wheel's metadata (pyproject's `readme`), so it comes along.
COPY pyproject.toml README.md ./
COPY src ./src
# The one dependency list is [project].dependencies in pyproject.toml: installing the
# wheel, without extras, pulls exactly those pins (no `train`, no `dev`, so no torch).
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/digit_knower-*.whl

# ---- runtime: the venv and the shipped model, nothing else ----
FROM python:3.11.14-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="digit-knower" \
      org.opencontainers.image.description="Draw a digit, the machine reads it: web page and REST API" \
      org.opencontainers.image.licenses="MIT"

# The model lies outside the venv: an installed package has no repository root where
# settings.SHIPPED_MODEL_DIR would find it, so the image names the folder explicitly.
# The state dir holds the embedded SQLite database and the outbox: it is the volume. The model
# registry (retrained models, shared by every process) and MNIST (for `retrain`) get volumes in
# compose; they are created here so that a new named volume belongs to the app's user.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DIGIT_KNOWER_MODEL_DIR=/opt/digit-knower/model \
    DIGIT_KNOWER_STATE_DIR=/var/lib/digit-knower

# A fixed uid/gid, so that a bind-mounted or pre-created volume can be chowned to match.
RUN groupadd --system --gid 10001 digitknower \
    && useradd --system --uid 10001 --gid digitknower --create-home --home-dir /home/digitknower \
       --shell /usr/sbin/nologin digitknower \
    && mkdir -p /var/lib/digit-knower /var/lib/digit-knower-models /var/lib/digit-knower-mnist \
    && chown digitknower:digitknower /var/lib/digit-knower /var/lib/digit-knower-models /var/lib/digit-knower-mnist

COPY --from=builder /opt/venv /opt/venv
# The ONNX file, its card and plots; .dockerignore leaves the torch weights (*.pt) out.
COPY model /opt/digit-knower/model

# Numeric, so that the runtime (and Kubernetes' runAsNonRoot) can tell it is not root.
USER 10001:10001
WORKDIR /home/digitknower
VOLUME ["/var/lib/digit-knower"]
EXPOSE 8501 8000

# Checks the default command, the web page. The API's compose service overrides this
# with its own /healthz check (see docker-compose.yml). No curl in slim: Python it is.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

ENTRYPOINT ["digit-knower"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8501"]
