# syntax=docker/dockerfile:1
# hssee dealer: a static binary on an empty image, run as a non-root user; no
# shell, no package manager. Build from the repository root:
#   docker build -f deploy/docker/dealer.Dockerfile -t hssee-dealer .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/dealer ./cmd/dealer

FROM scratch
COPY --from=build /out/dealer /dealer
USER 65532:65532
# 7442: gRPC over TLS (-listen); 9090: Prometheus metrics (-metrics);
# 9091: plaintext grpc.health.v1 for probes (-health). Off unless set.
EXPOSE 7442 9090 9091
ENTRYPOINT ["/dealer"]
