package pades

import (
	"bytes"
	"crypto/x509"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
)

func TestSigMemo_RemembersOnlyWhatPassedAndOnlyWithinValidity(t *testing.T) {
	p, err := cmstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	other, err := cmstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.IssueValid("Memo", cmstest.ECDSAP256, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf := id.Chain[0]
	for i := 0; i < 2; i++ { // the second round answers from the memo
		if err := certSignedBy(leaf, p.Intermediate); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if err := certSignedBy(leaf, other.Intermediate); err == nil {
			t.Fatalf("round %d: a foreign CA's signature check passed", i)
		}
	}

	inter := []*x509.Certificate{p.Intermediate}
	pool := x509.NewCertPool()
	pool.AddCert(p.Intermediate)
	opts := func(at time.Time) x509.VerifyOptions {
		return x509.VerifyOptions{Roots: p.Roots(), Intermediates: pool, CurrentTime: at}
	}
	usage := x509.ExtKeyUsageAny
	chain, err := chainFor(leaf, opts(time.Now()), inter, usage)
	if err != nil || len(chain) != 3 {
		t.Fatalf("chain %d certificates, %v", len(chain), err)
	}
	if _, err := chainFor(leaf, opts(time.Now().Add(2*time.Hour)), inter, usage); err == nil {
		t.Fatal("a remembered chain was used after its leaf expired")
	}
	if _, err := chainFor(leaf, x509.VerifyOptions{Roots: other.Roots(), Intermediates: pool, CurrentTime: time.Now()}, inter, usage); err == nil {
		t.Fatal("a remembered chain was used with other roots")
	}
	if _, err := chainFor(leaf, x509.VerifyOptions{Roots: p.Roots(), CurrentTime: time.Now()}, nil, usage); err == nil {
		t.Fatal("a remembered chain was used without its intermediate at hand")
	}
	if _, err := chainFor(leaf, opts(time.Now()), inter, usage); err != nil {
		t.Fatalf("remembered chain: %v", err)
	}
}

func TestVerify_SkipTrustReadsSignaturesWithoutDecidingTrust(t *testing.T) {
	s := newTestSigner(t)
	signed := s.sign(t, readCorpus(t, "Walden.pdf"), "Alice", LevelBT)
	if rep := verifyBytes(t, signed, s.pki, time.Time{}); rep.Verdict != VerdictValid {
		t.Fatalf("with trust: %s", rep.Verdict)
	}
	rep, err := Verify(bytes.NewReader(signed), int64(len(signed)), VerifyOptions{Roots: s.pki.Roots(), SkipTrust: true})
	if err != nil {
		t.Fatal(err)
	}
	sig := rep.Signatures[0]
	if rep.Verdict == VerdictValid || sig.Checks.Chain.Status != CheckIndeterminate {
		t.Fatalf("SkipTrust decided trust: %s, chain %+v", rep.Verdict, sig.Checks.Chain)
	}
	if sig.Checks.Integrity.Status != CheckPassed || sig.Certificate == nil || sig.Certificate.Subject.CommonName != "Alice" || sig.TimestampTime.IsZero() {
		t.Fatalf("SkipTrust lost what the signature is: %+v", sig)
	}
}
