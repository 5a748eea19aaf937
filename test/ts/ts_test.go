// Package ts checks that TypeScript users get a working, precise client
// from Vellum's OpenAPI document: types generated with openapi-typescript
// from the running server's /api/openapi.json, a strict tsc check of an
// openapi-fetch client, and that client running Certyneo's quickstart
// against `vellum dev`. The npm packages are pinned in package-lock.json and
// installed by the test itself (npm ci).
package ts

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vellum-sign/vellum/internal/testenv"
)

func TestTypeScript_GeneratedClientRunsTheQuickstart(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (apt-get install nodejs npm): %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	started := time.Now()
	run(t, ctx, nil, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	t.Logf("npm ci: %s", time.Since(started).Round(time.Millisecond))

	dir := t.TempDir()
	base, key := startDev(t, dir)

	// Types from what the server serves, not from the file in the tree.
	if err := os.MkdirAll("gen", 0o755); err != nil {
		t.Fatal(err)
	}
	spec := fetch(t, base+"/api/openapi.json")
	if err := os.WriteFile(filepath.Join("gen", "openapi.json"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	started = time.Now()
	run(t, ctx, nil, "node_modules/.bin/openapi-typescript", "gen/openapi.json", "-o", "gen/api.d.ts")
	gen, err := os.ReadFile("gen/api.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	if loc := anyType.FindIndex(stripComments(gen)); loc != nil {
		code := stripComments(gen)
		t.Errorf("generated types contain any: …%s…", code[max(0, loc[0]-200):min(len(code), loc[1]+50)])
	}

	// Strict type check; quickstart.ts also holds @ts-expect-error lines that
	// fail the check if the types were loose enough to accept them.
	run(t, ctx, nil, "node_modules/.bin/tsc", "-p", "tsconfig.json")
	t.Logf("openapi-typescript + tsc: %s", time.Since(started).Round(time.Millisecond))

	out := filepath.Join(dir, "signed.pdf")
	started = time.Now()
	summary := run(t, ctx, []string{"BASE=" + base, "KEY=" + key, "PDF=" + filepath.Join("..", "fixtures", "test.pdf"), "OUT=" + out},
		"node_modules/.bin/tsx", "quickstart.ts")
	t.Logf("quickstart with openapi-fetch: %s: %s", time.Since(started).Round(time.Millisecond), strings.TrimSpace(summary))
	var result struct {
		Status string `json:"status"`
		Bytes  int    `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(lastLine(summary)), &result); err != nil || result.Status != "COMPLETED" || result.Bytes == 0 {
		t.Fatalf("quickstart printed %q (%v)", summary, err)
	}

	root, err := os.ReadFile(filepath.Join(dir, "pki", "root.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(root)
	if blk == nil {
		t.Fatal("dev root is not PEM")
	}
	rootCert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	nss, err := testenv.NSSDB(t.TempDir(), rootCert)
	if err != nil {
		t.Fatal(err)
	}
	sigs, report, err := testenv.Pdfsig(nss, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) == 0 || sigs[0].Signer != "Marie Dubois" || !sigs[0].Valid() || !sigs[0].Trusted() {
		t.Fatalf("pdfsig:\n%s", report)
	}
}

// TestOpenAPI_IsGoodForGenerators holds the document to what client
// generators need: an operationId on every operation, unique; every JSON,
// form or problem body a named schema (a $ref, or a oneOf of $refs) so
// generated types have names; no property defaults in request schemas; and
// examples that validate.
func TestOpenAPI_IsGoodForGenerators(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("document (examples included) does not validate: %v", err)
	}
	seen := map[string]string{}
	named := func(where string, mt string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Ref != "" {
			return
		}
		s := ref.Value
		if len(s.OneOf) > 0 || len(s.AnyOf) > 0 {
			for _, sub := range append(append(openapi3.SchemaRefs{}, s.OneOf...), s.AnyOf...) {
				if sub.Ref == "" {
					t.Errorf("%s %s: a oneOf/anyOf member is not a named schema", where, mt)
				}
			}
			return
		}
		if strings.Contains(mt, "json") || strings.HasPrefix(mt, "multipart/") || mt == "application/x-www-form-urlencoded" {
			t.Errorf("%s %s: inline schema; name it under components/schemas", where, mt)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			} else if prev, dup := seen[op.OperationID]; dup {
				t.Errorf("%s: operationId %s also names %s", where, op.OperationID, prev)
			}
			seen[op.OperationID] = where
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for mt, c := range op.RequestBody.Value.Content {
					named(where+" request", mt, c.Schema)
				}
			}
			for code, r := range op.Responses.Map() {
				if r.Value == nil || r.Ref != "" {
					continue
				}
				for mt, c := range r.Value.Content {
					named(where+" "+code, mt, c.Schema)
				}
			}
		}
	}
	// openapi-typescript turns a property with a default into a required
	// member of its named type, which request and response share: a caller
	// would have to send every defaulted member. Defaults in what requests
	// reach belong in the description.
	seenSchemas := map[*openapi3.Schema]bool{}
	var noDefaults func(where string, ref *openapi3.SchemaRef)
	noDefaults = func(where string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seenSchemas[ref.Value] {
			return
		}
		s := ref.Value
		seenSchemas[s] = true
		if ref.Ref != "" {
			where = strings.TrimPrefix(ref.Ref, "#/components/schemas/")
		}
		for name, p := range s.Properties {
			if p.Value != nil && p.Value.Default != nil {
				t.Errorf("%s.%s: default %v in a schema requests use; say it in the description", where, name, p.Value.Default)
			}
			noDefaults(where+"."+name, p)
		}
		noDefaults(where+"[]", s.Items)
		for _, sub := range append(append(append(openapi3.SchemaRefs{}, s.AllOf...), s.OneOf...), s.AnyOf...) {
			noDefaults(where, sub)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, c := range op.RequestBody.Value.Content {
					noDefaults(method+" "+path, c.Schema)
				}
			}
		}
	}
	for name, r := range doc.Components.Responses {
		for mt, c := range r.Value.Content {
			named("response "+name, mt, c.Schema)
		}
	}
	if len(seen) < 40 {
		t.Fatalf("only %d operations found; is this the whole document?", len(seen))
	}
}

// anyType finds `any` used as a type in TypeScript declarations.
var anyType = regexp.MustCompile(`(:\s*any\b|\bany\[\]|<any>|\|\s*any\b|\bany\s*[|;,)>])`)

var (
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	lineComment  = regexp.MustCompile(`(?m)//.*$`)
)

func stripComments(b []byte) []byte {
	return lineComment.ReplaceAll(blockComment.ReplaceAll(b, nil), nil)
}

func run(t *testing.T, ctx context.Context, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func fetch(t *testing.T, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

// startDev runs `vellum dev` ($VELLUM_BIN, else built here) in dir and
// returns its base URL and API key once it is ready.
func startDev(t *testing.T, dir string) (string, string) {
	t.Helper()
	bin := os.Getenv("VELLUM_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "vellum")
		build := exec.Command("go", "build", "-o", bin, "github.com/vellum-sign/vellum/cmd/vellum")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build vellum: %v\n%s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "dev", "--addr", addr, "--data-dir", dir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	keys := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "API key:"); ok {
				keys <- strings.TrimSpace(k)
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("vellum dev stderr:\n%s", stderr.String())
		}
	})
	var key string
	select {
	case key = <-keys:
	case <-done:
		t.Fatalf("vellum dev exited before printing its key:\n%s", stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatal("vellum dev printed no API key within 90 s")
	}
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, key
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("vellum dev not ready within 60 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
