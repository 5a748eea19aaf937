#!/usr/bin/env bash
# Whole-process signing benchmark: vellum pdf sign (PAdES B-B) next to
# @libpdf/core (the signer Documenso uses) and next to sha256sum (the floor),
# on a small (~60 KB), a medium (~1 MB) and a large (~12 MB, ~4,900-page)
# PDF. Prints wall time (fastest and median) and peak RSS over N runs of
# each, and the ratios. Both signers' outputs are checked with poppler's
# pdfsig, so the comparison is like for like.
#
# Usage: scripts/bench-signing/run.sh [-n RUNS] [--keep]
#   -n RUNS   runs per (file, tool), default 7 (fastest and median reported)
#   --keep    keep the work dir (inputs, key material, signed outputs)
# Env: VELLUM_BENCH_LARGE  path of the large PDF (default
#      $TMPDIR/vellum-pades-bench-large.pdf, shared with pkg/pades/bench_test.go;
#      built with qpdf from pdfcpu's testdata when missing).
#
# Re-runnable: installs what it needs (apt packages if missing, the pinned
# @libpdf/core via npm install), builds bin/vellum, makes a throw-away PKI.
set -euo pipefail

RUNS=7
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) RUNS="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TMP="${TMPDIR:-/tmp}"
LARGE="${VELLUM_BENCH_LARGE:-$TMP/vellum-pades-bench-large.pdf}"

# --- tools -------------------------------------------------------------------
need_apt=()
command -v pdfsig >/dev/null || need_apt+=(poppler-utils)
command -v qpdf >/dev/null || need_apt+=(qpdf)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} with apt-get" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The version is pinned in package.json (and package-lock.json); npm ci when
# the lock file is there, so every run measures the same code.
want="$(node -p "require('$HERE/package.json').dependencies['@libpdf/core']")"
have="$(node -p "try{require('$HERE/node_modules/@libpdf/core/package.json').version}catch{''}" 2>/dev/null || true)"
if [ "$have" != "$want" ]; then
  echo "installing @libpdf/core@$want with npm" >&2
  if [ -f "$HERE/package-lock.json" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2)
  else
    (cd "$HERE" && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
fi

echo "building bin/vellum" >&2
(cd "$ROOT" && go build -o bin/vellum ./cmd/vellum)
VELLUM="$ROOT/bin/vellum"

WORK="$(mktemp -d "$TMP/vellum-bench-signing.XXXXXX")"
if [ "$KEEP" = 1 ]; then echo "work dir: $WORK" >&2; else trap 'rm -rf "$WORK"' EXIT; fi

# --- key material: one ECDSA P-256 seal key for both signers -----------------
"$VELLUM" pki init --dir "$WORK/pki" --public-url http://localhost >/dev/null
CERT="$WORK/pki/seal.crt" KEY="$WORK/pki/seal.key" CHAIN="$WORK/pki/issuing.crt"
P12="$WORK/seal.p12" P12PASS=bench
openssl pkcs12 -export -inkey "$KEY" -in "$CERT" -certfile "$CHAIN" \
  -passout "pass:$P12PASS" -out "$P12"

# --- input files -------------------------------------------------------------
PDFCPU="$(cd "$ROOT" && go list -m -f '{{.Dir}}' github.com/pdfcpu/pdfcpu)"
TD="$PDFCPU/pkg/testdata"
if [ ! -s "$LARGE" ]; then
  echo "building $LARGE with qpdf" >&2
  args=(--empty --pages)
  for n in WaldenFull.pdf gobook.0.pdf T4.pdf TheGoProgrammingLanguageCh1.pdf itu-t81.pdf \
    5116.DCT_Filter.pdf pike-stanford.pdf go-lecture.pdf go.pdf golang.pdf read.go.pdf; do
    args+=("$TD/$n")
  done
  for _ in $(seq 20); do args+=("$TD/ECSTR11-01.pdf"); done
  qpdf "${args[@]}" -- "$LARGE.tmp.$$" && mv "$LARGE.tmp.$$" "$LARGE"
fi
FILES=("small:$TD/Walden.pdf" "medium:$TD/GoForOptimization.pdf" "large:$LARGE")

# --- measurement -------------------------------------------------------------
# measure NAME CMD...: runs CMD $RUNS times (after one untimed warm-up that
# also fills the page cache); sets MIN_MS and MED_MS (fastest and median wall
# ms) and MAX_KB (peak RSS, the largest over the runs).
measure() {
  local name="$1"; shift
  "$@" >/dev/null 2>"$WORK/$name.err" || { echo "FAILED: $*" >&2; cat "$WORK/$name.err" >&2; exit 1; }
  local times=() rss=0 i t0 t1 kb
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$WORK/$name.time" "$@" >/dev/null 2>"$WORK/$name.err"
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
    kb=$(tail -n1 "$WORK/$name.time")
    [ "$kb" -gt "$rss" ] && rss=$kb
  done
  read -r MIN_MS MED_MS < <(printf '%s\n' "${times[@]}" | sort -n |
    awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f %.1f\n", a[1]/1000, m/1000}')
  MAX_KB=$rss
}

# check_sig FILE: pdfsig must report every signature valid.
check_sig() {
  local out n_sig n_ok
  out="$(pdfsig "$1" 2>/dev/null || true)"
  n_sig=$(grep -c 'Signature Validation:' <<<"$out" || true)
  n_ok=$(grep -c 'Signature Validation: Signature is Valid\.' <<<"$out" || true)
  if [ "$n_sig" -lt 1 ] || [ "$n_sig" != "$n_ok" ]; then
    echo "pdfsig does not say 'Signature is Valid.' for $1:" >&2; echo "$out" >&2; exit 1
  fi
}

# What a vellum process costs before it signs anything (Go runtime and
# package initialisation of the whole binary).
measure "vellum-start" "$VELLUM" version
start_min=$MIN_MS start_ms=$MED_MS start_kb=$MAX_KB

rows=()
for entry in "${FILES[@]}"; do
  label="${entry%%:*}" f="${entry#*:}"
  size=$(stat -c %s "$f")
  pages=$(qpdf --show-npages "$f")
  echo "measuring $label ($f, $RUNS runs each)" >&2

  measure "sha-$label" sha256sum "$f"
  sha_min=$MIN_MS sha_ms=$MED_MS sha_kb=$MAX_KB

  measure "vellum-$label" "$VELLUM" pdf sign --in "$f" --out "$WORK/$label-vellum.pdf" \
    --cert "$CERT" --key "$KEY" --chain "$CHAIN"
  vel_min=$MIN_MS vel_ms=$MED_MS vel_kb=$MAX_KB
  check_sig "$WORK/$label-vellum.pdf"

  measure "libpdf-$label" node "$HERE/libpdf-sign.mjs" "$f" "$WORK/$label-libpdf.pdf" "$P12" "$P12PASS"
  lib_min=$MIN_MS lib_ms=$MED_MS lib_kb=$MAX_KB
  check_sig "$WORK/$label-libpdf.pdf"

  rows+=("$label $size $pages $sha_min $sha_ms $sha_kb $vel_min $vel_ms $vel_kb $lib_min $lib_ms $lib_kb")
done

# --- table -------------------------------------------------------------------
echo
echo "$RUNS runs each; wall time in ms as fastest/median, peak RSS in MB (largest); whole processes; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "vellum: bin/vellum pdf sign (B-B, ECDSA P-256) | @libpdf/core $want on node $(node --version) (PDF.load + pdf.sign, P12Signer) | every output: pdfsig 'Signature is Valid.'"
printf 'vellum process start alone (bin/vellum version): %s/%s ms, %.1f MB\n' "$start_min" "$start_ms" "$(awk "BEGIN{print $start_kb/1024}")"
echo "ratios use the fastest runs: vel/sha and lib/sha against sha256sum (the floor), lib/vel time and RSS of @libpdf/core over vellum"
printf '%s\n' "${rows[@]}" | awk '
BEGIN {
  printf "%-6s %8s %5s | %-13s %5s | %-13s %5s | %-15s %5s | %7s %7s %9s %9s\n",
    "file", "size", "pages", "sha256sum ms", "MB", "vellum ms", "MB", "libpdf ms", "MB",
    "vel/sha", "lib/sha", "lib/vel t", "lib/vel M"
}
{
  sz = ($2 >= 1048576) ? sprintf("%.1f MB", $2/1048576) : sprintf("%.0f KB", $2/1024)
  printf "%-6s %8s %5d | %-13s %5.1f | %-13s %5.1f | %-15s %5.1f | %6.1fx %6.1fx %8.1fx %8.1fx\n",
    $1, sz, $3, sprintf("%.1f/%.1f", $4, $5), $6/1024, sprintf("%.1f/%.1f", $7, $8), $9/1024,
    sprintf("%.1f/%.1f", $10, $11), $12/1024, $7/$4, $10/$4, $10/$7, $12/$9
}'
