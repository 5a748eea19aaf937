package envelope_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/cli"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// TestEvidence_SignersCertificatesExpireBeforeCompletion_StillBLTA: two
// signers sign twenty days ago, their 24-hour certificates expire, a third
// signs ten days later and the envelope completes then. Each signature
// carries a time-stamp made while its certificate was valid and the DSS
// holds OCSP responses taken at that time, under a document timestamp; so
// at any later time every signature still verifies — checked with openssl
// (the chain at the time the signature time-stamp proves, every time-stamp,
// every embedded OCSP response), pdfsig (the signature now; the certificate
// with its online OCSP check at the time the time-stamp proves, as pdfsig
// always validates at "now") and `vellum pdf verify`.
func TestEvidence_SignersCertificatesExpireBeforeCompletion_StillBLTA(t *testing.T) {
	if _, err := exec.LookPath("faketime"); err != nil {
		t.Fatalf("faketime is needed to run pdfsig at a past time (apt-get install faketime): %v", err)
	}
	defer h.clock.Shift(0)
	signedAt := -20 * 24 * time.Hour
	h.clock.Shift(signedAt)
	c := newClient(t)
	doc := c.upload("lease.pdf", samplePDF("Lease", 1))
	names := map[string]string{"ann@example.com": "Ann Early", "ben@example.com": "Ben Early", "cay@example.com": "Cay Late"}
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
		"subject": "Lease", "documentIds": []string{doc}, "signingOrder": "SEQUENTIAL",
		"recipients": []map[string]any{
			{"email": "ann@example.com", "name": names["ann@example.com"], "role": "SIGNER", "order": 1},
			{"email": "ben@example.com", "name": names["ben@example.com"], "role": "SIGNER", "order": 2},
			{"email": "cay@example.com", "name": names["cay@example.com"], "role": "SIGNER", "order": 3},
		},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	sign := func(email string) {
		t.Helper()
		tok := c.tokenOf(id, email) // appears once the previous signature is applied
		r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{
			"consent": true, "signature": map[string]any{"type": "typed", "text": names[email]}})
		if r.status != http.StatusOK {
			t.Fatalf("%s signs: %d %s", email, r.status, r.body)
		}
	}
	sign("ann@example.com")
	sign("ben@example.com")
	c.tokenOf(id, "cay@example.com")
	// Ten days on, Ann's and Ben's certificates are long expired.
	h.clock.Shift(signedAt + 10*24*time.Hour)
	sign("cay@example.com")
	c.waitStatus(id, "COMPLETED")
	h.clock.Shift(0)

	res := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil)
	if res.status != http.StatusOK {
		t.Fatalf("signed-document: %d", res.status)
	}
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "lease-signed.pdf")
	writeFile(t, pdfPath, res.body)
	rootPath := writePEM(t, dir, "root.pem", h.pki.Root().Raw)
	issuingPath := writePEM(t, dir, "issuing.pem", h.pki.Issuing().Raw)

	sigs, err := testenv.ScanSignatures(res.body)
	if err != nil {
		t.Fatal(err)
	}
	dss, err := testenv.ReadDSS(pdfPath, filepath.Join(dir, "dss"))
	if err != nil {
		t.Fatal(err)
	}
	v := &testenv.Verifier{Dir: dir, CAFile: rootPath, Untrusted: issuingPath}
	ocsps := map[string]*testenv.OCSPResponse{} // by serial
	for _, resp := range dss.OCSPs {
		o, err := v.OCSP(resp)
		if err != nil {
			t.Fatalf("DSS OCSP response: %v", err)
		}
		if o.Status != "good" {
			t.Errorf("DSS OCSP response for %s: %s", o.Serial, o.Status)
		}
		serial, ok := new(big.Int).SetString(o.Serial, 16)
		if !ok {
			t.Fatalf("openssl serial %q", o.Serial)
		}
		ocsps[serial.Text(16)] = o
	}

	// Every signature: CMS valid at its time-stamp's time, time-stamp valid,
	// certificate expired by completion, and an OCSP response in the DSS
	// taken after the time-stamp and before the certificate expired.
	type signed struct {
		name   string
		cert   *x509.Certificate
		tsTime time.Time
	}
	var signatures []signed
	var completedAt time.Time
	for _, s := range sigs {
		if s.DocTimestamp {
			tok, err := rfc3161.ParseToken(s.Contents)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Timestamp(s.Contents, s.Data(res.body), nil); err != nil {
				t.Errorf("document timestamp: %v", err)
			}
			completedAt = tok.GenTime
			continue
		}
		sd, err := cms.ParseSignedData(s.Contents)
		if err != nil {
			t.Fatal(err)
		}
		si := sd.Signers[0]
		if len(si.TimestampTokens) != 1 {
			t.Fatalf("signature without a signature time-stamp (B-B)")
		}
		tok, err := rfc3161.ParseToken(si.TimestampTokens[0])
		if err != nil {
			t.Fatal(err)
		}
		imprint := sha256.Sum256(si.Signature)
		if err := v.Timestamp(si.TimestampTokens[0], nil, imprint[:]); err != nil {
			t.Errorf("signature time-stamp: %v", err)
		}
		cert := signerCert(sd)
		if err := v.CMS(s.Contents, s.Data(res.body), tok.GenTime); err != nil {
			t.Errorf("%s: %v", cert.Subject.CommonName, err)
		}
		if err := v.CMS(s.Contents, s.Data(res.body), time.Time{}); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("%s: openssl accepted the chain now; the test does not test expiry: %v", cert.Subject.CommonName, err)
		}
		o := ocsps[cert.SerialNumber.Text(16)]
		switch {
		case o == nil:
			t.Errorf("%s: no OCSP response for the signer certificate in the DSS", cert.Subject.CommonName)
		case o.ThisUpdate.Before(tok.GenTime.Truncate(time.Second)) || o.ThisUpdate.After(cert.NotAfter):
			t.Errorf("%s: OCSP response at %v, not between the time-stamp %v and expiry %v",
				cert.Subject.CommonName, o.ThisUpdate, tok.GenTime, cert.NotAfter)
		}
		signatures = append(signatures, signed{cert.Subject.CommonName, cert, tok.GenTime})
	}
	if len(signatures) != 3 || completedAt.IsZero() {
		t.Fatalf("found %d signatures, document timestamp %v", len(signatures), completedAt)
	}
	for _, s := range signatures[:2] {
		if !completedAt.After(s.tsTime.Add(24 * time.Hour)) {
			t.Errorf("%s signed at %v, completed at %v: the certificate had not expired", s.name, s.tsTime, completedAt)
		}
	}

	// pdfsig, now: every signature intact; it validates certificates at the
	// present only, where all three have expired.
	nss, err := testenv.NSSDB(t.TempDir(), h.pki.Root())
	if err != nil {
		t.Fatal(err)
	}
	now, out, err := testenv.Pdfsig(nss, pdfPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(now) != 4 {
		t.Fatalf("pdfsig found %d signatures, want 3 and a document timestamp:\n%s", len(now), out)
	}
	for i, s := range signatures {
		if !now[i].Valid() || now[i].Certificate != "Certificate has Expired" {
			t.Errorf("pdfsig now, %s: %q / %q:\n%s", s.name, now[i].Signature, now[i].Certificate, out)
		}
	}
	// At the time each signature time-stamp proves (libfaketime, with the
	// responder's clock there too): pdfsig trusts the certificate, and NSS
	// gets a good OCSP response for it online. pdfsig's own online check is
	// asserted for the first signature only; see testenv.VfychainOCSP.
	for i, s := range signatures {
		at := s.tsTime.Add(time.Minute)
		env, err := testenv.FakeTime(at)
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Shift(time.Until(at))
		flags := []string{"-no-ocsp"}
		if i == 0 {
			flags = nil
		}
		then, out, err := testenv.Pdfsig(nss, pdfPath, env, flags...)
		var vout string
		if err == nil {
			vout, err = testenv.VfychainOCSP(nss, env, writePEM(t, dir, "signer.pem", s.cert.Raw), issuingPath)
		}
		h.clock.Shift(0)
		if err != nil {
			t.Fatalf("at %v: %v\n%s", at, err, vout)
		}
		if len(then) != 4 || !then[i].Valid() || !then[i].Trusted() {
			t.Errorf("pdfsig %v at %v, %s:\n%s", flags, at, s.name, out)
		}
	}

	// `vellum pdf verify`: the file is VALID, every signature validated at
	// level B-LTA with its time-stamp as proof of existence.
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"pdf", "verify", pdfPath, "--roots", rootPath, "--json"}, &stdout, &stderr)
	type check struct{ Status string }
	var rep struct {
		Verdict    string
		Signatures []struct {
			Level, Verdict    string
			DocumentTimestamp bool
			Checks            struct{ Integrity, Chain, Timestamps, Modifications check }
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("vellum pdf verify --json: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if len(rep.Signatures) != 4 {
		t.Fatalf("vellum pdf verify: %d signatures\n%s", len(rep.Signatures), stdout.String())
	}
	if code != 0 || rep.Verdict != "VALID" {
		t.Errorf("vellum pdf verify: exit %d, verdict %s\n%s", code, rep.Verdict, stdout.String())
	}
	for _, s := range rep.Signatures {
		c := s.Checks
		if s.Verdict != "VALID" || c.Integrity.Status != "passed" || c.Chain.Status != "passed" || c.Timestamps.Status != "passed" ||
			c.Modifications.Status != "passed" || (!s.DocumentTimestamp && s.Level != "B-LTA") {
			t.Errorf("vellum pdf verify: %+v", s)
		}
	}
}

// signerCert returns the certificate of the first signer of sd.
func signerCert(sd *cms.SignedData) *x509.Certificate {
	for _, c := range sd.Certificates {
		if !c.IsCA && len(c.EmailAddresses) > 0 {
			return c
		}
	}
	return sd.Certificates[0]
}
