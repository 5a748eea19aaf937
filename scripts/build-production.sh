#!/usr/bin/env bash
# Builds the production binary: -tags production (no SQLite, no embedded
# Redis, no `vellum dev`), cgo for PKCS#11, and the asynqmon dashboard
# without its JavaScript source maps (5.3 MB nobody's browser needs). The
# maps are dropped from a temporary copy of the pinned asynqmon module that
# a temporary go.work points the build at; nothing in the repository or the
# module cache changes.
#
#	scripts/build-production.sh [OUTPUT] [LDFLAGS]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/vellum-production}
ldflags=${2:--s -w}
go=${GO:-go}

mod=$($go list -m -f '{{.Dir}}' github.com/hibiken/asynqmon)
ver=$($go list -m -f '{{.Version}}' github.com/hibiken/asynqmon)
goversion=$($go list -m -f '{{.GoVersion}}')
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
cp -r "$mod" "$tmp/asynqmon"
chmod -R u+w "$tmp/asynqmon"
find "$tmp/asynqmon/ui/build" -name '*.map' -delete
cat > "$tmp/go.work" <<WORK
go $goversion

use $PWD

replace github.com/hibiken/asynqmon $ver => $tmp/asynqmon
WORK
GOWORK="$tmp/go.work" CGO_ENABLED=1 $go build -tags production -trimpath -ldflags "$ldflags" -o "$out" ./cmd/vellum
