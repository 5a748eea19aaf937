#!/usr/bin/env bash
# Two `vellum serve` and two `vellum worker` processes (different ports)
# against one PostgreSQL, Redis and versitygw of their own (scripts/benchstack:
# initdb, redis-server, versitygw on free loopback ports; never the shared
# servers). The envelope benchmark is spread over both APIs (envelope i goes
# to API i mod 2, creation to completion), with -check: every envelope
# COMPLETED, exactly one signature per signer in its signed document (the
# document downloaded through the API that created it), every webhook
# delivered once per webhook-id and envelope.completed published once per
# envelope. benchstack prints the CPU of every process per completed
# envelope, statements, Redis commands and S3 requests.
#
# Usage: scripts/multinode.sh [N] [CONCURRENCY]   (default 200 8)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200}"
C="${2:-8}"
go build -o bin/vellum ./cmd/vellum
exec go run ./scripts/benchstack -api 2 -workers 2 -- \
  go run ./scripts/bench-envelopes -n "$N" -c "$C" -check
