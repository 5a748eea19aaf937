#!/usr/bin/env bash
# A/B benchmark of the signing engine between two git revisions, end to end:
#   1. whole processes: `vellum pdf sign` (B-B, ECDSA P-256) once on every
#      PDF of pdfcpu's testdata (the corpus), as one batch;
#   2. in process: BenchmarkSign/sign/ of pkg/pades (the corpus, and the
#      small, medium and large files).
# The revisions alternate round by round so that load from other work on the
# machine hits both alike. CPU time (user+sys) is reported beside wall time:
# on a shared machine it is the steadier of the two. Fastest and median of
# the rounds are printed.
#
# Usage: scripts/bench-engine-ab.sh [-n ROUNDS] REV_A REV_B
#   e.g. B=$(git log -1 --format=%h --grep 'compress/zlib with the Adler-32')
#        scripts/bench-engine-ab.sh -n 9 $B~1 $B
set -euo pipefail

ROUNDS=7
while [ $# -gt 0 ]; do
  case "$1" in
    -n) ROUNDS="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { sed -n '12,14p' "$0" >&2; exit 2; }
REV_A="$1" REV_B="$2"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vellum-ab.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

for tag in A B; do
  rev=$REV_A; [ "$tag" = B ] && rev=$REV_B
  mkdir -p "$WORK/$tag"
  git -C "$ROOT" archive "$rev" | tar -x -C "$WORK/$tag"
  (cd "$WORK/$tag" && go build -o "$WORK/$tag/vellum" ./cmd/vellum && go test -c -o "$WORK/$tag/pades.test" ./pkg/pades)
  echo "built $tag = $(git -C "$ROOT" log -1 --format='%h %s' "$rev" | cut -c1-80)" >&2
done

"$WORK/A/vellum" pki init --dir "$WORK/pki" --public-url http://localhost >/dev/null
CERT="$WORK/pki/seal.crt" KEY="$WORK/pki/seal.key" CHAIN="$WORK/pki/issuing.crt"
CORPUS="$(cd "$ROOT" && go list -m -f '{{.Dir}}' github.com/pdfcpu/pdfcpu)/pkg/testdata"
mapfile -t FILES < <(ls "$CORPUS"/*.pdf)

# sign_corpus BIN: signs every corpus file with BIN (encrypted ones are
# refused, as in production); prints the batch's wall and CPU ms.
sign_corpus() {
  local bin="$1" t0 t1 f cpu=0 c
  t0=$(date +%s%N)
  for f in "${FILES[@]}"; do
    /usr/bin/time -f '%U %S' -o "$WORK/cpu" "$bin" pdf sign --in "$f" --out "$WORK/out.pdf" \
      --cert "$CERT" --key "$KEY" --chain "$CHAIN" >/dev/null 2>&1 || true
    c=$(awk '{printf "%d", ($1+$2)*1000}' "$WORK/cpu")
    cpu=$((cpu + c))
  done
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 )) $cpu"
}

# bench TAG: one round of the in-process benchmarks; appends "name ns/op"
# lines, then "cpu MS" for the CPU time of the whole benchmark run.
bench() {
  local tag="$1"
  (cd "$WORK/$tag/pkg/pades" 2>/dev/null || cd "$WORK/$tag"
    /usr/bin/time -f '%U %S' -o "$WORK/$tag.cpu" "$WORK/$tag/pades.test" -test.run '^$' \
      -test.bench 'BenchmarkSign/sign/' -test.benchtime 20x) |
    awk '/^BenchmarkSign/ {printf "%s %.0f\n", $1, $3}' >>"$WORK/$tag.bench"
  awk '{printf "cpu %d\n", ($1+$2)*1000}' "$WORK/$tag.cpu" >>"$WORK/$tag.bench"
}

stats() { sort -g | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "fastest %.1f, median %.1f", a[1], m}'; }

echo "whole processes: ${#FILES[@]} corpus files per batch, $ROUNDS rounds, load $(cut -d' ' -f1 /proc/loadavg)" >&2
sign_corpus "$WORK/A/vellum" >/dev/null; sign_corpus "$WORK/B/vellum" >/dev/null # warm the page cache
: >"$WORK/A.proc"; : >"$WORK/B.proc"; : >"$WORK/A.bench"; : >"$WORK/B.bench"
for ((i = 0; i < ROUNDS; i++)); do
  sign_corpus "$WORK/A/vellum" >>"$WORK/A.proc"
  sign_corpus "$WORK/B/vellum" >>"$WORK/B.proc"
done
echo "in process: BenchmarkSign/sign/ with 20 iterations each, $ROUNDS rounds" >&2
for ((i = 0; i < ROUNDS; i++)); do
  bench A
  bench B
done

echo
echo "A = $(git -C "$ROOT" log -1 --format='%h %s' "$REV_A" | cut -c1-100)"
echo "B = $(git -C "$ROOT" log -1 --format='%h %s' "$REV_B" | cut -c1-100)"
echo "$(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at the end; $ROUNDS rounds"
printf '%-44s | %-30s | %-30s\n' "measure" "A" "B"
row() { printf '%-44s | %-30s | %-30s\n' "$1" "$2" "$3"; }
row "vellum pdf sign x${#FILES[@]}, wall ms" "$(awk '{print $1}' "$WORK/A.proc" | stats)" "$(awk '{print $1}' "$WORK/B.proc" | stats)"
row "vellum pdf sign x${#FILES[@]}, CPU ms" "$(awk '{print $2}' "$WORK/A.proc" | stats)" "$(awk '{print $2}' "$WORK/B.proc" | stats)"
row "BenchmarkSign run, CPU ms" "$(awk '$1=="cpu"{print $2}' "$WORK/A.bench" | stats)" "$(awk '$1=="cpu"{print $2}' "$WORK/B.bench" | stats)"
for name in $(awk '$1!="cpu"{print $1}' "$WORK/A.bench" | sed 's/-[0-9]*$//' | sort -u); do
  row "$name µs/op" "$(grep "^$name-" "$WORK/A.bench" | awk '{print $2/1000}' | stats)" \
    "$(grep "^$name-" "$WORK/B.bench" | awk '{print $2/1000}' | stats)"
done
