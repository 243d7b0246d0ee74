# syntax=docker/dockerfile:1
# Build: docker build -t switchyard .
# Run:   docker run -v $PWD/config:/etc/switchyard -p 8080:8080 -p 4222:4222 switchyard run --config /etc/switchyard/switchyard.yaml

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
# 4222: embedded NATS (when nats.url is empty); 8080: admin API. Bind them to
# 0.0.0.0 in the config to reach them from outside the container.
EXPOSE 4222 8080
ENTRYPOINT ["/usr/local/bin/switchyard"]
CMD ["run", "--config", "/etc/switchyard/switchyard.yaml"]
