package pades

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

type testSigner struct {
	pki *cmstest.PKI
	tsa *cmstest.TSA
}

func newTestSigner(t testing.TB) *testSigner {
	t.Helper()
	pki, err := cmstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := pki.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{pki: pki, tsa: tsa}
}

// revocation is a complete RevocationFunc: the root and both CAs' CRLs.
func (s *testSigner) revocation(context.Context, []*x509.Certificate) (ValidationData, error) {
	crls, err := s.pki.CRL(big.NewInt(1), time.Now())
	return ValidationData{Certs: [][]byte{s.pki.Root.Raw}, CRLs: crls}, err
}

func (s *testSigner) sign(t testing.TB, in []byte, name string, level Level) []byte {
	t.Helper()
	id, err := s.pki.Issue(name, cmstest.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Signer: id.Key, Certificates: id.Chain, Name: name, Level: level, Timestamper: s.tsa, Revocation: s.revocation}
	var out bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, opts); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	dir, err := padestest.PdfcpuDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each signature's /VRI entry lists its own certificates and revocation
// data: a second signer's B-LT revision must not file its data under the
// first signature (here a B-T one without a DSS yet).
func TestDSS_VRIHoldsEachSignaturesOwnData(t *testing.T) {
	s := newTestSigner(t)
	one := s.sign(t, readCorpus(t, "Walden.pdf"), "Alice", LevelBT)
	two := s.sign(t, one, "Bob", LevelBLT)
	d, err := openDocument(bytes.NewReader(two), int64(len(two)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := d.signatures()
	if len(sigs) != 2 {
		t.Fatalf("%d signatures", len(sigs))
	}
	_, cat, _ := d.catalog()
	dss, _ := d.resolveDict(cat["DSS"])
	vri, _ := d.resolveDict(dss["VRI"])
	if len(vri) != 2 {
		t.Fatalf("VRI has %d entries, want 2", len(vri))
	}
	for i, want := range []string{"Alice", "Bob"} {
		sum := sha1.Sum(sigs[i].contents)
		entry, _ := d.resolveDict(vri[name(strings.ToUpper(hex.EncodeToString(sum[:])))])
		if entry == nil {
			t.Fatalf("no VRI entry for signature %d", i+1)
		}
		var names []string
		certs, _ := d.resolveArray(entry["Cert"])
		for _, c := range certs {
			o, _ := d.resolve(c)
			data, _ := d.streamData(o.(stream), true)
			cert, err := x509.ParseCertificate(data)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, cert.Subject.CommonName)
		}
		got := strings.Join(names, ",")
		// Alice's own certificate is not in the DSS (Bob's B-LT stored his
		// chain); hers lists the CA and TSA data she shares with him.
		other := map[string]string{"Alice": "Bob", "Bob": "Alice"}[want]
		if strings.Contains(got, other) || (want == "Bob") != strings.Contains(got, want) ||
			!strings.Contains(got, "Vellum Test Root") || !strings.Contains(got, "Vellum Test TSA") {
			t.Errorf("signature %d (%s): VRI certificates %s", i+1, want, got)
		}
		// Both CAs' CRLs (Bob's revision fetched fresh ones, which serve
		// his chain as well as the earlier ones do).
		if crls, _ := d.resolveArray(entry["CRL"]); len(crls) < 2 {
			t.Errorf("signature %d: %d CRLs in its VRI entry, want both CAs'", i+1, len(crls))
		}
	}
}

// B-LT is refused, not faked, when the validation data leaves a
// certificate of the chain without an issuer or without revocation data.
func TestSign_BLTRefusesIncompleteValidationData(t *testing.T) {
	s := newTestSigner(t)
	id, _ := s.pki.Issue("Carol", cmstest.ECDSAP256)
	in := readCorpus(t, "Walden.pdf")
	crls, _ := s.pki.CRL(big.NewInt(1), time.Now())
	for name, tc := range map[string]struct {
		vd   ValidationData
		want string
	}{
		"no root":          {ValidationData{CRLs: crls}, "no issuer certificate for"},
		"no CRLs":          {ValidationData{Certs: [][]byte{s.pki.Root.Raw}}, "no OCSP response or CRL for"},
		"only the leaf CA": {ValidationData{Certs: [][]byte{s.pki.Root.Raw}, CRLs: crls[1:]}, `"CN=Vellum Test Issuing CA,O=Vellum"`},
	} {
		vd := tc.vd
		opts := Options{Signer: id.Key, Certificates: id.Chain, Level: LevelBLTA, Timestamper: s.tsa,
			Revocation: func(context.Context, []*x509.Certificate) (ValidationData, error) { return vd, nil }}
		var out bytes.Buffer
		err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, opts)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeSigningError || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a SIGNING_ERROR naming %s", name, err, tc.want)
		}
	}
	opts := Options{Signer: id.Key, Certificates: id.Chain, Level: LevelBLT, Timestamper: s.tsa}
	if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &bytes.Buffer{}, opts); err == nil {
		t.Error("B-LT without a RevocationFunc succeeded")
	}
}

// The /Contents placeholder is sized from the real CMS and token: little
// padding for B-B, and for B-T once the TSA's token size is known.
func TestSign_ContentsPaddingIsSmall(t *testing.T) {
	s := newTestSigner(t)
	in := readCorpus(t, "Walden.pdf")
	padding := func(pdf []byte) (pad, total int) {
		d, err := openDocument(bytes.NewReader(pdf), int64(len(pdf)))
		if err != nil {
			t.Fatal(err)
		}
		sigs, _ := d.signatures()
		c := sigs[len(sigs)-1].contents
		return len(c) - len(bytes.TrimRight(c, "\x00")), len(c)
	}
	if pad, total := padding(s.sign(t, in, "Dora", LevelBB)); pad > 16 {
		t.Errorf("B-B: %d of %d bytes are padding", pad, total)
	}
	s.sign(t, in, "Dora", LevelBT) // the TSA's token size becomes known
	if pad, total := padding(s.sign(t, in, "Dora", LevelBT)); pad > tokenSlack+16 {
		t.Errorf("B-T: %d of %d bytes are padding", pad, total)
	}
}
