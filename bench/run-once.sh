#!/usr/bin/env bash
# Builds and runs every benchmark of the root module and of the bench module
# once, so that they keep compiling and running. It checks no timing. The
# bench module's tests also run, because they check that every benchmarked
# client sends its requests to the loopback server.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cd "$root"
go test -run '^$' -bench . -benchtime=1x ./...

cd "$root/bench"
go vet ./...
go test -run . -bench . -benchtime=1x ./...
