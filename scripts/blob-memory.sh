#!/usr/bin/env bash
# Measures peak RSS and throughput while a generated body (default 200 MiB)
# streams through the blob interface into (a) FSStore and (b) S3Store against
# a local versitygw, hashing it on the way in and on the way back.
# Usage: scripts/blob-memory.sh [SIZE_BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."

size=${1:-$((200 << 20))}
work=$(mktemp -d)
vgw_pid=
cleanup() {
	if [ -n "$vgw_pid" ]; then kill -TERM -- "-$vgw_pid" 2>/dev/null || true; wait "$vgw_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# A separate binary, so the numbers are the measured process alone (not `go run`).
go build -o "$work/blobmem" ./scripts/blobmem

echo "== FSStore"
"$work/blobmem" -store fs -size "$size" -dir "$work/fs"

# Same binary resolution as internal/testenv: $VELLUM_VERSITYGW, else
# bin/versitygw, built from test/tools/go.mod when missing.
vgw=${VELLUM_VERSITYGW:-bin/versitygw}
if [ ! -x "$vgw" ]; then
	echo "building bin/versitygw (about a minute the first time)"
	mkdir -p bin
	(cd test/tools && go build -o "../../bin/versitygw.tmp-$$" github.com/versity/versitygw/cmd/versitygw)
	mv "bin/versitygw.tmp-$$" bin/versitygw
fi

port=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 40000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free port found" >&2; exit 1; }

mkdir "$work/s3"
setsid "$vgw" --access blobmem --secret blobmemsecret --port "127.0.0.1:$port" --quiet \
	posix "$work/s3" >"$work/versitygw.log" 2>&1 &
vgw_pid=$!
for i in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	if [ "$i" = 100 ] || ! kill -0 "$vgw_pid" 2>/dev/null; then
		echo "versitygw did not start:" >&2; cat "$work/versitygw.log" >&2; exit 1
	fi
	sleep 0.1
done

echo "== S3Store (versitygw on 127.0.0.1:$port, part size 8 MiB, concurrency 2)"
"$work/blobmem" -store s3 -size "$size" -create-bucket \
	-s3-endpoint "http://127.0.0.1:$port" -s3-access-key blobmem -s3-secret-key blobmemsecret
