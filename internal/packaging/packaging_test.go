package packaging_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/packaging"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/seal"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/internal/tsa"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

var env struct {
	svc      *testenv.Services
	accounts *account.Service
	docs     *document.Service
	ca       *pki.PKI
	sealer   seal.Sealer
	nssdir   string
	pkgs     *packaging.Service
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	var err error
	if env.svc, err = testenv.StartServices(ctx, "packaging"); err != nil {
		return fail(err)
	}
	defer env.svc.Close()
	s3, err := testenv.StartS3(ctx)
	if err != nil {
		return fail(err)
	}
	defer s3.Close()
	blobs, err := blob.NewS3Store(ctx, s3.BlobConfig())
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	base := "http://" + ln.Addr().String()
	dir, err := os.MkdirTemp("", "vellum-packaging-*")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	if env.ca, err = pki.LoadOrCreate(ctx, dir, base, pki.WithStore(pki.NewDBStore(env.svc.PG.DB))); err != nil {
		return fail(err)
	}
	tc := env.ca.TSA()
	tsaSrv, err := tsa.New(tsa.Config{Cert: tc.Cert, Key: tc.Key, Chain: tc.Chain[:1]})
	if err != nil {
		return fail(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/tsa", tsaSrv)
	mux.Handle("/pki/", env.ca.Handler())
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	defer srv.Close()
	ts, err := rfc3161.NewClient([]rfc3161.Server{{Name: "builtin", URL: base + "/tsa"}})
	if err != nil {
		return fail(err)
	}
	env.sealer = seal.Sealer{Timestamper: ts, Revocation: env.ca.Revocation(nil)}
	if err := os.Mkdir(filepath.Join(dir, "nss"), 0o700); err != nil {
		return fail(err)
	}
	if env.nssdir, err = testenv.NSSDB(filepath.Join(dir, "nss"), env.ca.Root()); err != nil {
		return fail(err)
	}
	env.accounts = account.NewService(env.svc.PG.DB)
	env.docs = document.NewService(env.svc.PG.DB, blobs, nil, document.Config{})
	env.pkgs = &packaging.Service{DB: env.svc.PG.DB, Outbox: jobs.NewOutbox(env.svc.PG.DB), Docs: env.docs,
		Sealer: env.sealer, Seal: env.ca.Seal}
	return m.Run()
}

// signedDocument stores testPDF signed (sealed) once as a document of scope.
func signedDocument(t *testing.T, scope account.Scope, name string) (*document.Document, []byte) {
	t.Helper()
	ctx := context.Background()
	src, err := os.ReadFile("../../test/fixtures/test.pdf")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := env.sealer.Seal(ctx, bytes.NewReader(src), int64(len(src)), &out, env.ca.Seal(), "Signed for the test", "Signature1"); err != nil {
		t.Fatal(err)
	}
	up, err := env.docs.Receive(ctx, bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	d, err := env.docs.Create(ctx, scope, up, document.Meta{Filename: name})
	if err != nil {
		t.Fatal(err)
	}
	return d, out.Bytes()
}

func commitTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return env.svc.PG.DB.WithTx(ctx, fn)
}

func TestContainer_CarriesSignedDocumentsUnchangedAndIsSealed(t *testing.T) {
	ctx := context.Background()
	a, err := env.accounts.CreateAccount(ctx, "Packaging", "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	scope := account.Scope{AccountID: a.ID, Environment: account.Test}
	d1, b1 := signedDocument(t, scope, "contract.pdf")
	d2, b2 := signedDocument(t, scope, "annex.pdf")

	owner := "dcl_0193000000000000000000000000test"
	for range 2 { // asking twice builds one package
		if err := env.pkgs.Request(ctx, scope, owner, packaging.PadesContainer, "Rental agreement", []string{d1.ID, d2.ID}); err != nil {
			t.Fatal(err)
		}
	}
	var tasks int64
	env.svc.PG.DB.Conn(ctx).Table("outbox_tasks").Where("type = ?", packaging.TaskBuild).Count(&tasks)
	if tasks != 1 {
		t.Fatalf("%d build tasks, want 1", tasks)
	}
	for range 2 { // a second run finds it built
		if err := env.pkgs.Build(ctx, owner, packaging.PadesContainer, commitTx); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, err := env.pkgs.List(ctx, scope, owner)
	if err != nil || len(pkgs) != 1 || pkgs[0].Status != packaging.StatusReady || pkgs[0].DocumentID == "" {
		t.Fatalf("packages %+v, %v", pkgs, err)
	}
	_, rc, err := env.docs.Open(ctx, scope, pkgs[0].DocumentID)
	if err != nil {
		t.Fatal(err)
	}
	container, _ := io.ReadAll(rc)
	rc.Close()

	dir := t.TempDir()
	path := filepath.Join(dir, "container.pdf")
	if err := os.WriteFile(path, container, 0o600); err != nil {
		t.Fatal(err)
	}
	sigs, out, err := testenv.Pdfsig(env.nssdir, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) < 2 || sigs[0].Type != "ETSI.CAdES.detached" || !sigs[0].Valid() || !sigs[0].Trusted() ||
		sigs[0].Signer != env.ca.Seal().Cert.Subject.CommonName || !sigs[len(sigs)-1].Total {
		t.Fatalf("container seal (then a B-LTA document timestamp) not valid:\n%s", out)
	}

	list, err := exec.Command("pdfdetach", "-list", path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfdetach -list (poppler-utils): %v %s", err, list)
	}
	if !strings.Contains(string(list), "2 embedded files") {
		t.Fatalf("pdfdetach -list:\n%s", list)
	}
	for i, want := range [][]byte{b1, b2} {
		got := filepath.Join(dir, fmt.Sprintf("out%d.pdf", i+1))
		if o, err := exec.Command("pdfdetach", "-save", fmt.Sprint(i+1), "-o", got, path).CombinedOutput(); err != nil {
			t.Fatalf("pdfdetach -save %d: %v %s", i+1, err, o)
		}
		b, _ := os.ReadFile(got)
		if !bytes.Equal(b, want) {
			t.Fatalf("embedded file %d differs from the signed document (%d vs %d bytes)", i+1, len(b), len(want))
		}
		inner, out, err := testenv.Pdfsig(env.nssdir, got, nil)
		if err != nil || len(inner) == 0 || !inner[0].Valid() {
			t.Fatalf("embedded document %d's signature: %v\n%s", i+1, err, out)
		}
	}
	text, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Rental agreement", "contract.pdf", "annex.pdf", d1.SHA256, d2.SHA256, "Signed by"} {
		if !strings.Contains(string(text), want) {
			t.Fatalf("the cover lacks %q:\n%s", want, text)
		}
	}
}
