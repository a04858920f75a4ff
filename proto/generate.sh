#!/bin/sh
# Regenerates proto/hsseepb from proto/hssee.proto. Pinned generators:
#   protoc 3.21.12 (Debian bookworm: apt-get install -y protobuf-compiler)
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
# Run from anywhere: sh proto/generate.sh
set -eu
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
protoc --go_out=hsseepb --go_opt=paths=source_relative \
	--go-grpc_out=hsseepb --go-grpc_opt=paths=source_relative \
	hssee.proto
