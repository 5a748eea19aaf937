package pki_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vellum-sign/vellum/internal/pdfreport"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/pkg/pades"
)

var opensslTime = regexp.MustCompile(`(Produced At|This Update|Next Update): (.+)`)

// respTimes runs `openssl ocsp … -resp_text` and returns the times it prints.
func respTimes(t *testing.T, out string) map[string]time.Time {
	t.Helper()
	times := map[string]time.Time{}
	for _, m := range opensslTime.FindAllStringSubmatch(out, -1) {
		v, err := time.Parse("Jan _2 15:04:05 2006 MST", strings.TrimSpace(m[2]))
		if err != nil {
			t.Fatalf("openssl time %q: %v", m[2], err)
		}
		times[m[1]] = v
	}
	return times
}

// TestOCSP_ProducedAtIsNeverBeforeThisUpdate asks openssl for every kind of
// answer — good, revoked, unknown, and the issuing CA's status from the
// root — at a clock reading of hh:mm:37, where rounding producedAt down to
// the minute made NSS reject every response.
func TestOCSP_ProducedAtIsNeverBeforeThisUpdate(t *testing.T) {
	clock := &testenv.Clock{}
	clock.Stop(time.Now().UTC().Truncate(time.Minute).Add(37*time.Second + 400*time.Millisecond))
	f := newFixture(t, pki.WithClock(clock.Now))
	_, goodPath := f.signer(t, "Ada Lovelace", "ada@example.com")
	revoked, _ := f.pki.IssueSigner(context.Background(), "Mallory", "mallory@example.com")
	revokedPath := f.write(t, "revoked.pem", revoked.Cert)
	if err := f.pki.Revoke(context.Background(), revoked.Cert.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	other := newFixture(t) // a certificate our issuing CA never issued, same issuer name
	stranger, _ := other.pki.IssueSigner(context.Background(), "Eve", "eve@example.com")
	strangerPath := f.write(t, "stranger.pem", stranger.Cert)

	for _, tc := range []struct {
		name, issuer, cert, status string
	}{
		{"good", f.path("issuing.pem"), goodPath, ": good"},
		{"revoked", f.path("issuing.pem"), revokedPath, ": revoked"},
		{"issuing CA from the root", f.path("root.pem"), f.path("issuing.pem"), ": good"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := openssl(t, "ocsp", "-issuer", tc.issuer, "-cert", tc.cert, "-url", f.url+"/pki/ocsp",
				"-resp_text", "-CAfile", f.path("root.pem"), "-no_nonce")
			if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, tc.cert+tc.status) {
				t.Fatalf("openssl ocsp:\n%s", out)
			}
			checkTimes(t, out, clock.Now())
		})
	}
	// An unknown serial under our issuer name but another key: unauthorized.
	out := openssl(t, "ocsp", "-issuer", other.path("issuing.pem"), "-cert", strangerPath, "-url", f.url+"/pki/ocsp", "-no_nonce")
	if !strings.Contains(out, "unauthorized") {
		t.Errorf("foreign issuer: %s", out)
	}
}

func checkTimes(t *testing.T, out string, now time.Time) {
	t.Helper()
	ts := respTimes(t, out)
	produced, this, next := ts["Produced At"], ts["This Update"], ts["Next Update"]
	if produced.IsZero() || this.IsZero() || next.IsZero() {
		t.Fatalf("missing times %v in:\n%s", ts, out)
	}
	if produced.Before(this) {
		t.Errorf("producedAt %v is before thisUpdate %v", produced, this)
	}
	if !next.After(this) || !this.Equal(now.Truncate(time.Second)) {
		t.Errorf("thisUpdate %v, nextUpdate %v; now %v", this, next, now)
	}
}

// TestOCSP_CachedUntilRefreshOrRevocation: the same certificate gets the
// same response (and HTTP caches are told how long they may keep it) until
// the refresh interval passes or the certificate is revoked.
func TestOCSP_CachedUntilRefreshOrRevocation(t *testing.T) {
	clock := &testenv.Clock{}
	clock.Stop(time.Now().UTC())
	f := newFixture(t, pki.WithClock(clock.Now))
	cred, _ := f.signer(t, "Emmy Noether", "emmy@example.com")
	req, err := ocsp.CreateRequest(cred.Cert, f.pki.Issuing(), nil)
	if err != nil {
		t.Fatal(err)
	}
	post := func() (*ocsp.Response, []byte, http.Header) {
		t.Helper()
		resp, err := http.Post(f.url+"/pki/ocsp", "application/ocsp-request", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		r, err := ocsp.ParseResponseForCert(buf.Bytes(), cred.Cert, f.pki.Issuing())
		if err != nil {
			t.Fatal(err)
		}
		return r, buf.Bytes(), resp.Header
	}
	r1, der1, hdr := post()
	if r1.Status != ocsp.Good || r1.ProducedAt.Before(r1.ThisUpdate) || r1.NextUpdate.IsZero() {
		t.Fatalf("first response: status %d, produced %v, this %v, next %v", r1.Status, r1.ProducedAt, r1.ThisUpdate, r1.NextUpdate)
	}
	maxAge := regexp.MustCompile(`max-age=(\d+)`).FindStringSubmatch(hdr.Get("Cache-Control"))
	if maxAge == nil || hdr.Get("Last-Modified") == "" || hdr.Get("Expires") == "" || hdr.Get("ETag") == "" {
		t.Fatalf("caching headers: %v", hdr)
	}
	if age, _ := strconv.Atoi(maxAge[1]); time.Duration(age)*time.Second > r1.NextUpdate.Sub(clock.Now()) || age <= 0 {
		t.Errorf("max-age %d s outlives nextUpdate %v", age, r1.NextUpdate)
	}

	clock.Stop(clock.Now().Add(time.Minute))
	if _, der2, _ := post(); !bytes.Equal(der1, der2) {
		t.Error("a minute later the response was produced again, not reused")
	}
	clock.Stop(clock.Now().Add(10 * time.Minute))
	r3, der3, _ := post()
	if bytes.Equal(der1, der3) || !r3.ProducedAt.After(r1.ProducedAt) || r3.ProducedAt.Before(r3.ThisUpdate) {
		t.Errorf("after the refresh interval: produced %v (first %v)", r3.ProducedAt, r1.ProducedAt)
	}
	if err := f.pki.Revoke(context.Background(), cred.Cert.SerialNumber, 4); err != nil {
		t.Fatal(err)
	}
	if r4, _, _ := post(); r4.Status != ocsp.Revoked || r4.RevocationReason != 4 {
		t.Errorf("after revocation: status %d reason %d", r4.Status, r4.RevocationReason)
	}
}

// TestOCSP_PdfsigOnlineCheckTrustsAndRevokes signs PDFs with certificates
// from this PKI and lets pdfsig check them with its default online OCSP
// request against the live responder: trusted while good, revoked after.
func TestOCSP_PdfsigOnlineCheckTrustsAndRevokes(t *testing.T) {
	f := newFixture(t)
	nss, err := testenv.NSSDB(t.TempDir(), f.pki.Root())
	if err != nil {
		t.Fatal(err)
	}
	sign := func(cred *pki.Credential, name string) string {
		t.Helper()
		doc := pdfreport.New(name)
		doc.Para("Signed for the OCSP test.")
		pdf, err := doc.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = pades.Sign(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), &out, pades.Options{
			Signer: cred.Key, Certificates: append(append(cred.Chain[:0:0], cred.Cert), cred.Chain...), Name: name})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(f.dir, name+".pdf")
		if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	seal := f.pki.Seal()
	good, _ := f.signer(t, "Hedy Lamarr", "hedy@example.com")
	bad, _ := f.pki.IssueSigner(context.Background(), "Mallory", "mallory@example.com")
	files := map[string]string{"signer": sign(good, "signer"), "seal": sign(&seal, "seal"), "revoked": sign(bad, "revoked")}
	if err := f.pki.Revoke(context.Background(), bad.Cert.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"signer": "Certificate is Trusted.", "seal": "Certificate is Trusted.",
		"revoked": "Certificate has been Revoked."} {
		sigs, out, err := testenv.Pdfsig(nss, files[name], nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(sigs) != 1 || !sigs[0].Valid() || sigs[0].Certificate != want {
			t.Errorf("%s: want %q:\n%s", name, want, out)
		}
	}
}
