# swimfd: the Python failure detector with its go-diss next to it, in one image.
#
#   docker build -t swimfd:0.1.0 .
#   docker run --rm swimfd:0.1.0 swimfd --version
#
# Stage 1 builds go-diss; stage 2 installs the Python dependencies from requirements.lock (exact
# versions and hashes, as `make venv` does) and swimfd itself into /opt/swimfd; the last stage is a slim
# Python with that venv and go-diss on PATH, where `swimfd run` finds it (swimfd.runtime.diss_process).
# deploy/entrypoint.sh derives the member id and addresses from the host name (deploy/k8s/, compose).
# Note: requirements.lock also pins the dev tools (pytest, ruff, matplotlib); the image carries them.

ARG GO_VERSION=1.26
ARG PYTHON_VERSION=3.11

FROM golang:${GO_VERSION} AS go-diss
WORKDIR /src/go-diss
COPY go-diss/go.mod go-diss/go.sum ./
RUN go mod download
COPY go-diss/ ./
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/go-diss ./cmd/go-diss

FROM python:${PYTHON_VERSION}-slim AS python-deps
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/swimfd \
 && /opt/swimfd/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml ./
COPY pyserver/ pyserver/
RUN /opt/swimfd/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
 && /opt/swimfd/bin/swimfd --version

FROM python:${PYTHON_VERSION}-slim
COPY --from=python-deps /opt/swimfd /opt/swimfd
COPY --from=go-diss /out/go-diss /usr/local/bin/go-diss
COPY deploy/entrypoint.sh /usr/local/bin/swimfd-entrypoint
ENV PATH=/opt/swimfd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SWIMFD_PORT=50051
# 50051: detector (gRPC: FailureDetector, grpc.health.v1, reflection); 50061: go-diss (detector port + 10).
EXPOSE 50051 50061
# Any non-root uid works: the node writes nothing but its logs (stderr unless LOG_FILE is set).
USER 65532:65532
ENTRYPOINT ["swimfd-entrypoint"]
