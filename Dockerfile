# syntax=docker/dockerfile:1
# Build: docker build -t switchyard .
# Run:   docker run -v $PWD/config:/etc/switchyard -p 127.0.0.1:8080:8080 -e SWITCHYARD_ADMIN_TOKEN=… switchyard run --config /etc/switchyard/switchyard.yaml
#        (with admin: {listen: 0.0.0.0:8080, token: "${SWITCHYARD_ADMIN_TOKEN}"} in that file; see below)

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so code changes do not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/switchyard ./cmd/switchyard \
 && mkdir -p /out/data

# distroless/static: CA certificates and tzdata, no shell, runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchyard /usr/local/bin/switchyard
COPY --from=build --chown=65532:65532 /out/data /var/lib/switchyard
COPY config/switchyard.yaml /etc/switchyard/switchyard.yaml
WORKDIR /var/lib/switchyard
USER 65532:65532
# 8080: admin API. To reach it from outside the container, set admin.listen
# to 0.0.0.0:8080 together with admin.token (validate refuses a non-loopback
# admin listener without a token). 4222: the embedded NATS (nats.url empty)
# has no authentication; keep it on 127.0.0.1 and give producers an external
# NATS with auth (nats.url). Listening on another address needs
# nats.embedded.insecure_no_auth: true: anyone who reaches it can publish
# and read every stream.
EXPOSE 4222 8080
ENTRYPOINT ["/usr/local/bin/switchyard"]
CMD ["run", "--config", "/etc/switchyard/switchyard.yaml"]
