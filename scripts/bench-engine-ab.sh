#!/usr/bin/env bash
# A/B benchmark of the signing engine between two git revisions, end to end:
#   1. whole processes: `vellum pdf sign` (B-B, ECDSA P-256) once on every
#      PDF of pdfcpu's testdata (the corpus), timed as one batch;
#   2. in process: go test -bench BenchmarkSign/sign/ (the corpus and the
#      small, medium and large files of pkg/pades/bench_test.go).
# The two revisions alternate round by round so that load from other work
# on the machine hits both alike; fastest and median of the rounds are printed.
#
# Usage: scripts/bench-engine-ab.sh [-n ROUNDS] REV_A REV_B
#   e.g. scripts/bench-engine-ab.sh -n 9 1a0c44e b9ab168
set -euo pipefail

ROUNDS=7
while [ $# -gt 0 ]; do
  case "$1" in
    -n) ROUNDS="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { sed -n '11,12p' "$0" >&2; exit 2; }
REV_A="$1" REV_B="$2"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vellum-ab.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

for tag in A B; do
  rev=$REV_A; [ "$tag" = B ] && rev=$REV_B
  mkdir -p "$WORK/$tag"
  git -C "$ROOT" archive "$rev" | tar -x -C "$WORK/$tag"
  (cd "$WORK/$tag" && go build -o "$WORK/$tag/vellum" ./cmd/vellum)
  echo "built $tag = $(git -C "$ROOT" log -1 --format='%h %s' "$rev" | cut -c1-80)" >&2
done

"$WORK/A/vellum" pki init --dir "$WORK/pki" --public-url http://localhost >/dev/null
CERT="$WORK/pki/seal.crt" KEY="$WORK/pki/seal.key" CHAIN="$WORK/pki/issuing.crt"
CORPUS="$(cd "$ROOT" && go list -m -f '{{.Dir}}' github.com/pdfcpu/pdfcpu)/pkg/testdata"
mapfile -t FILES < <(ls "$CORPUS"/*.pdf)

# sign_corpus BIN: signs every corpus file with BIN (encrypted ones are
# refused, as in production); prints the batch's wall time in ms.
sign_corpus() {
  local bin="$1" t0 t1 f
  t0=$(date +%s%N)
  for f in "${FILES[@]}"; do
    "$bin" pdf sign --in "$f" --out "$WORK/out.pdf" --cert "$CERT" --key "$KEY" --chain "$CHAIN" >/dev/null 2>&1 || true
  done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

stats() { sort -n | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "fastest %s, median %s", a[1], m}'; }

echo "whole processes: ${#FILES[@]} corpus files per batch, $ROUNDS rounds, load $(cut -d' ' -f1 /proc/loadavg)" >&2
sign_corpus "$WORK/A/vellum" >/dev/null; sign_corpus "$WORK/B/vellum" >/dev/null # warm the page cache
: >"$WORK/A.proc"; : >"$WORK/B.proc"
for ((i = 0; i < ROUNDS; i++)); do
  sign_corpus "$WORK/A/vellum" >>"$WORK/A.proc"
  sign_corpus "$WORK/B/vellum" >>"$WORK/B.proc"
done

echo "in process: go test -bench 'BenchmarkSign/sign/' -count 1, $ROUNDS rounds" >&2
: >"$WORK/A.bench"; : >"$WORK/B.bench"
for ((i = 0; i < ROUNDS; i++)); do
  for tag in A B; do
    (cd "$WORK/$tag" && go test ./pkg/pades -run '^$' -bench 'BenchmarkSign/sign/' -benchtime 1s -count 1) |
      grep '^BenchmarkSign' >>"$WORK/$tag.bench"
  done
done

echo
echo "A = $(git -C "$ROOT" log -1 --format='%h %s' "$REV_A" | cut -c1-100)"
echo "B = $(git -C "$ROOT" log -1 --format='%h %s' "$REV_B" | cut -c1-100)"
echo "$(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at the end"
printf '%-40s | %-36s | %-36s\n' "measure" "A" "B"
printf '%-40s | %-36s | %-36s\n' "vellum pdf sign x${#FILES[@]} files (ms)" "$(stats <"$WORK/A.proc")" "$(stats <"$WORK/B.proc")"
for name in $(awk '{print $1}' "$WORK/A.bench" | sed 's/-[0-9]*$//' | sort -u); do
  a=$(grep "^$name-" "$WORK/A.bench" | awk '{print $3/1000}' | stats)
  b=$(grep "^$name-" "$WORK/B.bench" | awk '{print $3/1000}' | stats)
  printf '%-40s | %-36s | %-36s\n' "$name (µs/op)" "$a" "$b"
done
