#!/usr/bin/env bash
# Builds and runs every benchmark of the root module and of the bench module
# once, so that they keep compiling and running. It checks no timing. The
# bench module's tests also run, against both loopback servers, because they
# check that every benchmarked client sends its requests to the server.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cd "$root"
go test -run '^$' -bench . -benchtime=1x ./...

cd "$root/bench"
go vet ./...
go test -run . -bench . -benchtime=1x ./...
# The same against the httptest server, which -server=nethttp selects.
go test -run . -bench . -benchtime=1x . -server=nethttp
