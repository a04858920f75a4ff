# syntax=docker/dockerfile:1
# hssee party0: a static binary on an empty image, run as a non-root user; no
# shell, no package manager. Build from the repository root:
#   docker build -f deploy/docker/party0.Dockerfile -t hssee-party0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/party0 ./cmd/party0

FROM scratch
COPY --from=build /out/party0 /party0
USER 65532:65532
# 7440: gRPC over TLS (-listen); 9090: Prometheus metrics (-metrics);
# 9091: plaintext grpc.health.v1 for probes (-health). Off unless set.
EXPOSE 7440 9090 9091
ENTRYPOINT ["/party0"]
