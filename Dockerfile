# syntax=docker/dockerfile:1
# Digit Knower: one Dockerfile, three images, each with only what its job needs.
#   docker build --target api   -t digit-knower-api .     # REST API and `db upgrade` (no Streamlit)
#   docker build --target web   -t digit-knower-web .     # the web page (the default target)
#   docker build --target train -t digit-knower-train .   # training and retraining (torch, CPU)
#   docker run -p 127.0.0.1:8000:8000 -e DIGIT_KNOWER_API_KEY=$(openssl rand -hex 32) digit-knower-api
#                                                                  # REST API, embedded SQLite
#   docker run -e DATABASE_URL=... digit-knower-api db upgrade     # migrations
#   docker run -p 127.0.0.1:8501:8501 digit-knower-web             # web page
# api and serve listen on 127.0.0.1 unless told otherwise: the CMDs below say 0.0.0.0, the
# container's own network, and the API then refuses to start without DIGIT_KNOWER_API_KEY
# (docs/security.md).
# api and web serve with ONNX Runtime and never carry torch; tests/deploy/test_images.py replays
# the builder stages outside Docker and checks what each environment holds, and its size;
# tests/containers builds and runs the images for real (Docker, or podman), compose included.

# ---- builder: a wheel of the project (its pins live in pyproject.toml, nowhere else) ----
# The wheel carries the shipped model (digit_knower/reader/shipped/, package data): each image
# serves the model of the code it was built from, with no folder or setting of its own for it.
FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/build

# README.md is part of the wheel's metadata (pyproject's `readme`), so it comes along.
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/build/bin/pip wheel --no-deps --wheel-dir /wheels .

# ---- one environment per image: the wheel with the extra that image needs ----
# Each is a venv without pip or setuptools (not needed at run time): the build venv's pip
# installs into it with --python.
FROM builder AS api-env
RUN python -m venv --without-pip /opt/venv \
    && /opt/build/bin/pip --python /opt/venv/bin/python install /wheels/digit_knower-*.whl

FROM builder AS web-env
RUN python -m venv --without-pip /opt/venv \
    && set -- /wheels/digit_knower-*.whl \
    && /opt/build/bin/pip --python /opt/venv/bin/python install "$1[web]"

# torch from PyTorch's CPU index: PyPI's Linux wheel of torch pulls in the CUDA libraries (GBs).
# Pinned to the CPU build (+cpu, found on that index only): with a bare `torch==X`, pip would take
# PyPI's CUDA build without a word whenever the CPU index cannot be reached; this way it fails.
# X is pyproject's pin (tests/containers/test_container_files.py holds them together).
FROM builder AS train-env
RUN python -m venv --without-pip /opt/venv \
    && set -- /wheels/digit_knower-*.whl \
    && /opt/build/bin/pip --python /opt/venv/bin/python install \
       --extra-index-url https://download.pytorch.org/whl/cpu "$1[train]" "torch==2.13.0+cpu"

# ---- runtime: what every image shares (user, paths) ----
FROM python:3.11.14-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="digit-knower" \
      org.opencontainers.image.description="Draw a digit, the machine reads it: web page and REST API" \
      org.opencontainers.image.licenses="MIT"

# The state dir holds the embedded SQLite database and the outbox: it is the volume. The model
# registry (retrained models, shared by every process) and MNIST (for `retrain`) get volumes in
# compose; they are created here so that a new named volume belongs to the app's user.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DIGIT_KNOWER_STATE_DIR=/var/lib/digit-knower

# A fixed uid/gid, so that a bind-mounted or pre-created volume can be chowned to match.
RUN groupadd --system --gid 10001 digitknower \
    && useradd --system --uid 10001 --gid digitknower --create-home --home-dir /home/digitknower \
       --shell /usr/sbin/nologin digitknower \
    && mkdir -p /var/lib/digit-knower /var/lib/digit-knower-models /var/lib/digit-knower-mnist \
    && chown digitknower:digitknower /var/lib/digit-knower /var/lib/digit-knower-models /var/lib/digit-knower-mnist

# Numeric, so that the runtime (and Kubernetes' runAsNonRoot) can tell it is not root.
USER 10001:10001
WORKDIR /home/digitknower
VOLUME ["/var/lib/digit-knower"]
ENTRYPOINT ["digit-knower"]

# ---- train: `digit-knower train` and `digit-knower retrain` (the retraining CronJob) ----
FROM runtime AS train
COPY --from=train-env /opt/venv /opt/venv
CMD ["train"]

# ---- api: the REST API; also runs the migrations (`db upgrade`) ----
FROM runtime AS api
COPY --from=api-env /opt/venv /opt/venv
EXPOSE 8000
# No curl in slim: Python it is.
# Ready = it answers predictions and can keep them (model loaded, outbox writable); a database
# outage does not make it unhealthy: predictions wait in the outbox meanwhile.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

# ---- web: the Streamlit page. Last, so that a plain `docker build .` makes it ----
FROM runtime AS web
COPY --from=web-env /opt/venv /opt/venv
EXPOSE 8501 9101
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8501"]
