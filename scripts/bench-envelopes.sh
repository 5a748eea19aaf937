#!/usr/bin/env bash
# Benchmark the envelope workflow end to end: N envelopes (1 document, 2
# signers) created, sent, signed through the signer API and completed.
#
# Against a running deployment (PostgreSQL/Redis/S3, `vellum serve` + `vellum worker`):
#   VELLUM_BASE_URL=http://127.0.0.1:8080 VELLUM_API_KEY=sk_test_… scripts/bench-envelopes.sh 100 4
# Without VELLUM_BASE_URL it starts a throw-away `vellum dev` (SQLite) on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
C=${2:-4}
if [[ -z "${VELLUM_BASE_URL:-}" ]]; then
	bin=$(mktemp -d)/vellum
	go build -o "$bin" ./cmd/vellum
	data=$(mktemp -d)
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	VELLUM_DATA_DIR="$data" VELLUM_LOG_LEVEL=warn "$bin" dev --addr "127.0.0.1:$port" >"$data/out" 2>"$data/err" &
	pid=$!
	trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
	for _ in $(seq 1 100); do grep -q 'API key' "$data/out" 2>/dev/null && break; sleep 0.2; done
	export VELLUM_BASE_URL="http://127.0.0.1:$port"
	VELLUM_API_KEY=$(grep -o 'sk_test_[A-Za-z0-9]*' "$data/out")
	export VELLUM_API_KEY
fi
go run ./scripts/bench-envelopes -n "$N" -c "$C"
