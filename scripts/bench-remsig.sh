#!/usr/bin/env bash
# Benchmark RemSig batch signing: one batch of N tasks (a third each PDF at
# level B, PKCS #7, PKCS #1) authorised by one PIN entry; prints tasks signed
# per second from the PIN entry to FINISHED and the peak RSS of the process
# that signs (the throw-away `vellum dev`, API and worker in one).
#
#   scripts/bench-remsig.sh 1000
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
bin=$(mktemp -d)/vellum
go build -o "$bin" ./cmd/vellum
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
VELLUM_LOG_LEVEL=warn "$bin" dev --addr "127.0.0.1:$port" --data-dir "$data" >"$data/out" 2>"$data/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do grep -q 'API key' "$data/out" 2>/dev/null && break; sleep 0.2; done
python3 - "$N" "http://127.0.0.1:$port" "$(grep -o 'sk_test_[A-Za-z0-9]*' "$data/out")" "$pid" <<'PY'
import base64, json, re, sys, time, urllib.request, urllib.parse, http.cookiejar
n, base, key, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
auth = "Basic " + base64.b64encode((key + ":").encode()).decode()
def call(method, path, body=None, bearer=False):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", ("Bearer " + key) if bearer else auth)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.load(r)
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
p = call("POST", "/api/v1/persons", {"uniqueId": "bench@localhost", "email": "bench@mail.localhost", "name": "Bench"}, True)
call("POST", f"/api/v1/persons/{p['id']}/certificates", {"password": "pin-24681357"}, True)
pdf = base64.b64encode(open("test/fixtures/test.pdf", "rb").read()).decode()
data = base64.b64encode(b"Lorem ipsum dolor sit amet.").decode()
b = call("POST", "/api/batch/create", {"personUniqueId": "bench@localhost"})["batch"]
for start in range(0, n, 100):
    body = {"pdf": [], "pkcs7": [], "pkcs1": []}
    for i in range(start, min(n, start + 100)):
        kind = ["pdf", "pkcs7", "pkcs1"][i % 3]
        body[kind].append({"data": {"bytes": pdf if kind == "pdf" else data}, "name": f"task-{i}"})
    call("POST", f"/api/batch/{b['hash']}/add", body)
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
page = op.open(b["authRedirectUrl"]).read().decode()
tok = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
before = rss()
t0 = time.time()
op.open(b["authRedirectUrl"], urllib.parse.urlencode({"csrf_token": tok, "password": "pin-24681357", "action": "sign"}).encode()).read()
peak = before
while True:
    peak = max(peak, rss())
    st = call("GET", f"/api/batch/{b['hash']}/state")["state"]
    if st in ("FINISHED", "PARTIALLY_FINISHED"):
        break
    time.sleep(0.1)
dt = time.time() - t0
info = call("GET", f"/api/batch/{b['hash']}")["batch"]
print(f"{n} tasks ({info['tasksFinished']} signed, {st}) in {dt:.1f} s: {n/dt:.0f} tasks/s; RSS {before} MiB before, peak {peak} MiB while signing")
PY
