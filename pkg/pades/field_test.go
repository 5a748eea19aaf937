package pades_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

// pdfsigFields lists the field names pdfsig reports, in order.
func pdfsigFields(t testing.TB, path string) []string {
	t.Helper()
	out, _ := exec.Command("pdfsig", path).CombinedOutput()
	var names []string
	for _, m := range regexp.MustCompile(`Signature Field Name: (\S+)`).FindAllSubmatch(out, -1) {
		names = append(names, string(m[1]))
	}
	return names
}

func signBytes(t testing.TB, pdf []byte, opts pades.Options) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	err := pades.Sign(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), &out, opts)
	return out.Bytes(), err
}

func writeTemp(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A contract prepared with an empty "ClientSignature" field is signed into
// that field: pdfsig then lists exactly one signature field, that one,
// valid — whether field and widget are one dictionary or two, and after an
// earlier signature, which stays valid.
func TestSign_IntoPreparedField(t *testing.T) {
	f := newFixture(t)
	rect := [4]float64{72, 100, 272, 160}
	for _, split := range []bool{false, true} {
		name := "merged"
		if split {
			name = "split"
		}
		t.Run(name, func(t *testing.T) {
			pdf := padestest.Contract([][]string{{"Agreement", "Signature:"}},
				padestest.EmptyField{Name: "ClientSignature", Page: 1, Rect: rect, Split: split})
			opts := f.options()
			opts.Field = "ClientSignature"
			signed, err := signBytes(t, pdf, opts)
			if err != nil {
				t.Fatal(err)
			}
			path := writeTemp(t, f.dir, name+".pdf", signed)
			requirePdfsigValid(t, path, 1)
			if got := pdfsigFields(t, path); len(got) != 1 || got[0] != "ClientSignature" {
				t.Fatalf("pdfsig fields %v, want [ClientSignature]", got)
			}
			info, err := pades.Inspect(bytes.NewReader(signed), int64(len(signed)))
			if err != nil {
				t.Fatal(err)
			}
			want := pades.SignatureField{Name: "ClientSignature", Page: 1, Rect: pades.Rect{X: 72, Y: 100, W: 200, H: 60}, Signed: true}
			if len(info.SignatureFields) != 1 || info.SignatureFields[0] != want {
				t.Fatalf("fields after signing %+v, want %+v", info.SignatureFields, want)
			}
			// The appearance is drawn in the field's own rectangle.
			if txt := pageText(t, path, "-x", "72", "-y", "632", "-W", "200", "-H", "60"); !strings.Contains(txt, "Alice Example") {
				t.Errorf("field area shows %q, want the signer's name", txt)
			}
			// Signing it again is refused, saying so.
			if _, err := signBytes(t, signed, opts); !errors.Is(err, pades.ErrFieldSigned) || !strings.Contains(err.Error(), `"ClientSignature"`) {
				t.Fatalf("second signature into the field: %v, want ErrFieldSigned naming it", err)
			}
		})
	}

	t.Run("after an earlier signature", func(t *testing.T) {
		pdf := padestest.Contract([][]string{{"Agreement"}},
			padestest.EmptyField{Name: "ClientSignature", Page: 1, Rect: rect})
		first, err := signBytes(t, pdf, f.options())
		if err != nil {
			t.Fatal(err)
		}
		opts := f.options()
		opts.Field = "ClientSignature"
		second, err := signBytes(t, first, opts)
		if err != nil {
			t.Fatal(err)
		}
		path := writeTemp(t, f.dir, "two.pdf", second)
		requirePdfsigValid(t, path, 2)
		if got := pdfsigFields(t, path); strings.Join(got, ",") != "ClientSignature,Signature1" {
			t.Fatalf("pdfsig fields %v", got)
		}
		rep, err := pades.Verify(bytes.NewReader(second), int64(len(second)), pades.VerifyOptions{Roots: f.pki.Roots()})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != pades.VerdictValid {
			t.Fatalf("verify: %s %+v", rep.Verdict, rep.Signatures)
		}
	})

	t.Run("unknown field", func(t *testing.T) {
		pdf := padestest.Contract([][]string{{"Agreement"}}, padestest.EmptyField{Name: "ClientSignature", Page: 1, Rect: rect})
		opts := f.options()
		opts.Field = "Nobody"
		if _, err := signBytes(t, pdf, opts); !errors.Is(err, pades.ErrNoSuchField) || !strings.Contains(err.Error(), `"Nobody"`) {
			t.Fatalf("got %v, want ErrNoSuchField naming the field", err)
		}
	})
}

// A field's /Lock becomes the signature's FieldMDP transform, which the
// verifier then enforces; its seed values choose digest and reason, and a
// required sub-filter this signer does not produce is refused.
func TestSign_IntoFieldHonoursLockAndSeedValue(t *testing.T) {
	f := newFixture(t)
	pdf := padestest.Contract([][]string{{"Agreement"}},
		padestest.EmptyField{Name: "ClientSignature", Page: 1, Rect: [4]float64{72, 100, 272, 160},
			Extra: "/Lock <</Type /SigFieldLock/Action /Include/Fields [(Amount)]/P 2>>/SV <</Type /SV/DigestMethod [/SHA384]/Reasons [(I agree)]>>"},
		padestest.EmptyField{Name: "Refused", Page: 1, Rect: [4]float64{300, 100, 500, 160},
			Extra: "/SV <</Type /SV/SubFilter [/adbe.pkcs7.sha1]/Ff 2>>"})
	opts := f.options()
	opts.Reason = ""
	opts.Field = "ClientSignature"
	signed, err := signBytes(t, pdf, opts)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, f.dir, "locked.pdf", signed)
	requirePdfsigValid(t, path, 2) // the "Refused" field stays unsigned
	for _, want := range []string{"/TransformMethod /FieldMDP", "/Action /Include", "/Fields [(Amount)]", "/P 2", "/Reason (I agree)"} {
		if !bytes.Contains(signed[len(pdf):], []byte(want)) {
			t.Errorf("signature revision lacks %s", want)
		}
	}
	rep, err := pades.Verify(bytes.NewReader(signed), int64(len(signed)), pades.VerifyOptions{Roots: f.pki.Roots()})
	if err != nil || rep.Verdict != pades.VerdictValid {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if out, _ := exec.Command("pdfsig", path).CombinedOutput(); !bytes.Contains(out, []byte("Signing Hash Algorithm: SHA-384")) {
		t.Errorf("seed value /DigestMethod [/SHA384] not followed:\n%s", out)
	}

	opts.Field = "Refused"
	if _, err := signBytes(t, pdf, opts); !errors.Is(err, pades.ErrSeedValue) {
		t.Fatalf("required sub-filter adbe.pkcs7.sha1: %v, want ErrSeedValue", err)
	}
}

// A field's certificate seed value (/SV /Cert) with its requirement flags
// refuses a signer whose certificate cannot meet it, with ErrSeedValue
// saying which constraint; a certificate that meets it signs, valid.
func TestSign_IntoFieldEnforcesCertificateSeedValue(t *testing.T) {
	f := newFixture(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	otherDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, issuer := f.id.Chain[0], f.id.Chain[1]
	hexOf := func(der []byte) string { return "<" + hex.EncodeToString(der) + ">" }
	ku := []byte("000000000")
	for i := range 9 {
		if leaf.KeyUsage&(1<<i) != 0 {
			ku[i] = '0' + 1
		}
	}
	notKU := bytes.Clone(ku)
	notKU[0] = '0' + ('1' - notKU[0]) // the opposite digitalSignature bit
	fields := []padestest.EmptyField{
		{Name: "OtherSubject", Extra: "/SV <</Type /SV/Cert <</Subject [" + hexOf(otherDER) + "]/Ff 1>>>>"},
		{Name: "OtherIssuer", Extra: "/SV <</Type /SV/Cert <</Issuer [" + hexOf(otherDER) + "]/Ff 2>>>>"},
		{Name: "Policy", Extra: "/SV <</Type /SV/Cert <</OID [(1.2.3.4.5)]/Ff 4>>>>"},
		{Name: "Usage", Extra: "/SV <</Type /SV/Cert <</KeyUsage [(" + string(notKU) + ")]/Ff 32>>>>"},
		{Name: "Suggested", Extra: "/SV <</Type /SV/Cert <</Subject [" + hexOf(otherDER) + "]>>>>"},
		{Name: "Met", Extra: "/SV <</Type /SV/Cert <</Subject [" + hexOf(leaf.Raw) + "]/Issuer [" + hexOf(issuer.Raw) +
			"]/KeyUsage [(" + string(ku) + ")]/Ff 35>>>>"},
	}
	for i := range fields {
		fields[i].Page, fields[i].Rect = 1, [4]float64{72, 100 + 70*float64(i), 272, 160 + 70*float64(i)}
	}
	pdf := padestest.Contract([][]string{{"Agreement"}}, fields...)
	opts := f.options()
	for name, want := range map[string]string{"OtherSubject": "/Cert /Subject", "OtherIssuer": "/Cert /Issuer",
		"Policy": "/Cert /OID", "Usage": "/Cert /KeyUsage"} {
		opts.Field = name
		if _, err := signBytes(t, pdf, opts); !errors.Is(err, pades.ErrSeedValue) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), name) {
			t.Errorf("field %s: %v, want ErrSeedValue about %s", name, err, want)
		}
	}
	for _, name := range []string{"Suggested", "Met"} {
		opts.Field = name
		signed, err := signBytes(t, pdf, opts)
		if err != nil {
			t.Fatalf("field %s: %v", name, err)
		}
		requirePdfsigValid(t, writeTemp(t, f.dir, name+".pdf", signed), len(fields))
	}
}
