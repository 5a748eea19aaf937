package person

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vellum-sign/vellum/internal/listing"
)

const pin = "246810"

func TestIssueCertificate_PlatformCAProfileKnownToOCSPAndRevocable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "")
	c := f.issue(t, p, pin)
	if c.Index != 0 || !c.IsPrimary || c.Origin != OriginIssued || c.Type != TypePersonal || c.Template != "Individual" ||
		c.Algorithm != "ECDSA-P256" || !c.HasKey() || c.Status(time.Now()) != StatusValid {
		t.Fatalf("first issued certificate: %+v", c)
	}
	x, err := x509.ParseCertificate(c.DER)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.CheckSignatureFrom(env.ca.Issuing()); err != nil {
		t.Fatalf("not signed by the issuing CA: %v", err)
	}
	if d := x.NotAfter.Sub(x.NotBefore); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("default validity %s, want about a year", d)
	}
	if !strings.Contains(c.Subject, "SERIALNUMBER=123456789012") || !strings.Contains(c.Subject, "CN=Aigul Akhmetova") {
		t.Errorf("subject %q lacks the person's name and national id", c.Subject)
	}
	if len(x.EmailAddresses) != 1 || x.EmailAddresses[0] != p.Email {
		t.Errorf("SAN e-mail %v, want %s", x.EmailAddresses, p.Email)
	}

	second, err := f.svc.IssueCertificate(ctx, f.scope, p.ID, IssueInput{Type: TypeSeal, PIN: pin, Algorithm: "RSA-3072", Validity: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if second.Index != 1 || second.IsPrimary || second.Algorithm != "RSA-3072" || second.Template != "Seal" {
		t.Fatalf("second certificate: index %d primary %v %s %s", second.Index, second.IsPrimary, second.Algorithm, second.Template)
	}
	if x2, _ := x509.ParseCertificate(second.DER); x2.SerialNumber.Cmp(x.SerialNumber) == 0 {
		t.Fatal("two certificates share a serial number")
	}

	if got := ocspStatus(t, x); got != ocsp.Good {
		t.Fatalf("OCSP status of an issued certificate: %d, want good", got)
	}
	revoked, err := f.svc.RevokeCertificate(ctx, f.scope, p.ID, c.ID, ReasonKeyCompromise)
	if err != nil {
		t.Fatal(err)
	}
	if revoked.Status(time.Now()) != StatusRevoked || revoked.HasKey() {
		t.Fatalf("after revocation: status %s, key held %v", revoked.Status(time.Now()), revoked.HasKey())
	}
	if got := ocspStatus(t, x); got != ocsp.Revoked {
		t.Fatalf("OCSP status after revocation: %d, want revoked", got)
	}
	crlDER, err := env.ca.CRL(ctx, "issuing")
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, e := range crl.RevokedCertificateEntries {
		listed = listed || (e.SerialNumber.Cmp(x.SerialNumber) == 0 && e.ReasonCode == ReasonKeyCompromise)
	}
	if !listed {
		t.Error("the CRL does not list the revoked certificate with its reason")
	}
	var rec keyRecord
	if err := env.pg.DB.Conn(ctx).Where("id = ?", c.ID).Take(&rec).Error; err != nil {
		t.Fatal(err)
	}
	if rec.KeyCiphertext != nil || rec.KeyPinWrap != nil || rec.KeyRecoveryWrap != nil {
		t.Error("revocation left key material in the row")
	}
	if _, err := f.svc.Unlock(ctx, f.scope, c.ID, pin); !errors.Is(err, ErrCertificateUnusable) {
		t.Errorf("unlocking a revoked certificate: %v", err)
	}
	if _, err := f.svc.UpdateCertificate(ctx, f.scope, p.ID, c.ID, CertificatePatch{Status: ptr(StatusValid)}, nil); !errors.Is(err, ErrCertificateRevoked) {
		t.Errorf("re-enabling a revoked certificate: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func ocspStatus(t *testing.T, cert *x509.Certificate) int {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, env.ca.Issuing(), nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := env.ca.OCSP(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.ParseResponseForCert(der, cert, env.ca.Issuing())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status
}

func TestIssueCertificate_RefusesBadInputAndMissingKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "")
	_, err := f.svc.IssueCertificate(ctx, f.scope, p.ID, IssueInput{Type: "ROBOT", PIN: "12", Algorithm: "DSA", Validity: 20 * 365 * 24 * time.Hour})
	got := fieldsOf(err)
	for _, name := range []string{"type", "password", "algorithm", "validityDays"} {
		if got[name] == "" {
			t.Errorf("no complaint about %s: %v", name, got)
		}
	}
	if _, err := f.svc.IssueCertificate(ctx, f.scope, "per_missing", IssueInput{PIN: pin}); !errors.Is(err, ErrPersonNotFound) {
		t.Errorf("unknown person: %v", err)
	}
	noKeys, err := NewService(env.pg.DB, env.ca, nil, Config{Argon2: testArgon2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noKeys.IssueCertificate(ctx, f.scope, p.ID, IssueInput{PIN: pin}); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("issuing without a key-encryption key: %v", err)
	}
}

func TestUnlock_FiveWrongPINsLockUntilResetWhichKeepsTheKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "")
	c := f.issue(t, p, pin)
	u, err := f.svc.Unlock(ctx, f.scope, c.ID, pin)
	if err != nil {
		t.Fatal(err)
	}
	original := u.Signer.Public()
	checkSigns(t, u)

	for i := 1; i < MaxPINAttempts; i++ {
		_, err := f.svc.Unlock(ctx, f.scope, c.ID, "000000")
		var wrong *WrongPINError
		if !errors.As(err, &wrong) || wrong.Remaining != MaxPINAttempts-i {
			t.Fatalf("wrong PIN %d: %v, want %d attempts left", i, err, MaxPINAttempts-i)
		}
	}
	if _, err := f.svc.Unlock(ctx, f.scope, c.ID, "000000"); !errors.Is(err, ErrLocked) {
		t.Fatalf("fifth wrong PIN: %v, want ErrLocked", err)
	}
	if _, err := f.svc.Unlock(ctx, f.scope, c.ID, pin); !errors.Is(err, ErrLocked) {
		t.Fatalf("right PIN on a locked certificate: %v, want ErrLocked", err)
	}
	got, _ := f.svc.GetCertificate(ctx, f.scope, p.ID, c.ID)
	if !got.Locked() || got.FailedAttempts != MaxPINAttempts {
		t.Fatalf("certificate after five wrong PINs: locked %v, attempts %d", got.Locked(), got.FailedAttempts)
	}

	reset, err := f.svc.ResetPIN(ctx, f.scope, c.ID, "new-pin-13579")
	if err != nil {
		t.Fatal(err)
	}
	if reset.Locked() || reset.FailedAttempts != 0 {
		t.Fatalf("after reset: locked %v attempts %d", reset.Locked(), reset.FailedAttempts)
	}
	if _, err := f.svc.Unlock(ctx, f.scope, c.ID, pin); !errors.Is(err, ErrWrongPIN) {
		t.Errorf("old PIN after the reset: %v, want ErrWrongPIN", err)
	}
	u, err = f.svc.Unlock(ctx, f.scope, c.ID, "new-pin-13579")
	if err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if !u.Signer.Public().(equaler).Equal(original) {
		t.Fatal("the reset replaced the key")
	}
	checkSigns(t, u)
	// A successful unlock clears the count of the wrong one before it.
	if got, _ := f.svc.GetCertificate(ctx, f.scope, p.ID, c.ID); got.FailedAttempts != 0 {
		t.Errorf("failed attempts after a right PIN: %d", got.FailedAttempts)
	}
}

// checkSigns signs with the unlocked key and verifies with the certificate.
func checkSigns(t *testing.T, u *Unlocked) {
	t.Helper()
	digest := sha256.Sum256([]byte("to be signed"))
	sig, err := u.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(u.X509.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("the unlocked key's signature does not verify with the certificate")
	}
}

func TestUnlock_ParallelGuessesCountEveryAttempt(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.issue(t, f.person(t, ""), pin)
	before := f.svc.hash.computations.Load()
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Unlock(ctx, f.scope, c.ID, "999999")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrLocked):
				outcomes["locked"]++
			case errors.Is(err, ErrWrongPIN):
				outcomes["wrong"]++
			default:
				outcomes["other: "+err.Error()]++
			}
		}()
	}
	wg.Wait()
	if outcomes["wrong"] != MaxPINAttempts-1 || outcomes["locked"] != 20-(MaxPINAttempts-1) {
		t.Errorf("outcomes %v, want %d wrong and the rest locked", outcomes, MaxPINAttempts-1)
	}
	if n := f.svc.hash.computations.Load() - before; n != MaxPINAttempts {
		t.Errorf("%d PINs were tried, want %d: a locked certificate must not try any", n, MaxPINAttempts)
	}
}

func TestUnlock_RefusesDisabledAndExpiredAndLinked(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "")
	c := f.issue(t, p, pin)
	if _, err := f.svc.UpdateCertificate(ctx, f.scope, p.ID, c.ID, CertificatePatch{Status: ptr(StatusDisabled)}, nil); err != nil {
		t.Fatal(err)
	}
	var unusable *UnusableError
	if _, err := f.svc.Unlock(ctx, f.scope, c.ID, pin); !errors.As(err, &unusable) || unusable.Status != StatusDisabled {
		t.Fatalf("disabled: %v", err)
	}
	if _, err := f.svc.UpdateCertificate(ctx, f.scope, p.ID, c.ID, CertificatePatch{Status: ptr(StatusValid)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Unlock(ctx, f.scope, c.ID, pin); err != nil {
		t.Fatalf("re-enabled: %v", err)
	}
	f.clock.Advance(400 * 24 * time.Hour)
	if _, err := f.svc.Unlock(ctx, f.scope, c.ID, pin); !errors.As(err, &unusable) || unusable.Status != StatusExpired {
		t.Fatalf("expired: %v", err)
	}
	linked, err := f.svc.LinkCertificate(ctx, f.scope, p.ID, LinkInput{Certificate: selfSigned(t, nil).Raw})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(-400 * 24 * time.Hour)
	if _, err := f.svc.Unlock(ctx, f.scope, linked.ID, pin); !errors.Is(err, ErrNoKey) {
		t.Fatalf("linked: %v", err)
	}
}

func TestUpdateCertificate_PrimaryMovesAndCannotBeUnset(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "")
	a := f.issue(t, p, pin)
	b, err := f.svc.LinkCertificate(ctx, f.scope, p.ID, LinkInput{Certificate: selfSigned(t, nil).Raw, Primary: true})
	if err != nil {
		t.Fatal(err)
	}
	if !b.IsPrimary {
		t.Fatal("linking with primary did not make it primary")
	}
	page, err := f.svc.ListCertificates(ctx, f.scope, p.ID, listing.Query{Limit: 10})
	if err != nil || page.Total != 2 {
		t.Fatalf("list: %v %v", page, err)
	}
	primaries := 0
	for _, c := range page.Items {
		if c.IsPrimary {
			primaries++
		}
	}
	if primaries != 1 || page.Items[0].ID != a.ID || page.Items[0].IsPrimary {
		t.Fatalf("after moving the primary: %+v", page.Items)
	}
	if _, err := f.svc.UpdateCertificate(ctx, f.scope, p.ID, b.ID, CertificatePatch{Primary: ptr(false)}, nil); fieldsOf(err)["isPrimary"] == "" {
		t.Errorf("unsetting the primary: %v", err)
	}
	got, err := f.svc.UpdateCertificate(ctx, f.scope, p.ID, a.ID, CertificatePatch{Primary: ptr(true)}, func(v int) bool { return v == a.Version })
	if err != nil || !got.IsPrimary {
		t.Fatalf("making the first primary again: %v", err)
	}
	if other, _ := f.svc.GetCertificate(ctx, f.scope, p.ID, b.ID); other.IsPrimary {
		t.Error("two primaries")
	}
	// Another person of the same account sees nothing of these.
	q := f.person(t, "")
	if _, err := f.svc.GetCertificate(ctx, f.scope, q.ID, a.ID); !errors.Is(err, ErrCertificateNotFound) {
		t.Errorf("another person's certificate: %v", err)
	}
}

func TestGrant_AuthorisesUntilItExpires(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.issue(t, f.person(t, ""), pin)
	if _, err := f.svc.Authorize(ctx, f.scope, c.ID, "111111", time.Hour); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("authorising with a wrong PIN: %v", err)
	}
	g, err := f.svc.Authorize(ctx, f.scope, c.ID, pin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.UnlockGrant(ctx, f.scope, g)
	if err != nil {
		t.Fatal(err)
	}
	checkSigns(t, u)
	forged := *g
	forged.ExpiresAt = g.ExpiresAt.Add(24 * time.Hour)
	if _, err := f.svc.UnlockGrant(ctx, f.scope, &forged); !errors.Is(err, ErrGrantExpired) {
		t.Errorf("a grant with an extended expiry: %v", err)
	}
	f.clock.Advance(time.Hour)
	if _, err := f.svc.UnlockGrant(ctx, f.scope, g); !errors.Is(err, ErrGrantExpired) {
		t.Errorf("an expired grant: %v", err)
	}
}

func TestCheckKeys_RefusesMissingOrWrongKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.issue(t, f.person(t, ""), pin) // at least one key is stored
	if err := f.svc.CheckKeys(ctx); err != nil {
		t.Fatalf("the right keys: %v", err)
	}
	none, _ := NewService(env.pg.DB, env.ca, nil, Config{Argon2: testArgon2})
	if err := none.CheckKeys(ctx); err == nil || !strings.Contains(err.Error(), "VELLUM_KEK") {
		t.Errorf("no keys while keys are stored: %v", err)
	}
	for name, k := range map[string]*Keyring{
		"wrong KEK":      {KEK: randomKEK(t), Recovery: f.keys.Recovery},
		"wrong recovery": {KEK: f.keys.KEK, Recovery: randomKEK(t)},
	} {
		wrong, _ := NewService(env.pg.DB, env.ca, k, Config{Argon2: testArgon2})
		if err := wrong.CheckKeys(ctx); !errors.Is(err, ErrKeyringMismatch) {
			t.Errorf("%s: %v, want ErrKeyringMismatch", name, err)
		}
		if _, err := wrong.IssueCertificate(ctx, f.scope, f.person(t, "").ID, IssueInput{PIN: pin}); !errors.Is(err, ErrKeyringMismatch) {
			t.Errorf("%s: sealing a new key: %v, want ErrKeyringMismatch", name, err)
		}
	}
}

// selfSigned is a leaf certificate for key (a new P-256 key when nil).
func selfSigned(t testing.TB, key crypto.Signer) *x509.Certificate {
	t.Helper()
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "Outside CA holder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLinkCertificate_GOSTShownWithAlgorithmIINAndName(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "")
	for _, tc := range []struct{ file, iin, name string }{
		{"kz-gost2012-256.pem", "123456789012", "AKHMETOVA AIGUL ERKINOVNA"},
		{"kz-gost2012-512.pem", "880101300123", "SEITKALI NURLAN BOLATULY"},
	} {
		c, err := f.svc.LinkCertificate(ctx, f.scope, p.ID, LinkInput{Certificate: readFixture(t, tc.file)})
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		x, _ := x509.ParseCertificate(c.DER)
		if c.Algorithm != "GOST3410-2022" || IIN(x) != tc.iin || FullName(x) != tc.name || c.Template != "Individual" || c.Origin != OriginLinked {
			t.Errorf("%s: algorithm %q IIN %q name %q template %q origin %s", tc.file, c.Algorithm, IIN(x), FullName(x), c.Template, c.Origin)
		}
		if !strings.Contains(c.Subject, "SERIALNUMBER=IIN"+tc.iin) || !strings.Contains(c.Subject, "GIVENNAME=") {
			t.Errorf("%s: subject %q", tc.file, c.Subject)
		}
	}
	if _, err := f.svc.LinkCertificate(ctx, f.scope, p.ID, LinkInput{Certificate: readFixture(t, "kz-gost2012-256.pem")}); !errors.Is(err, ErrCertificateExists) {
		t.Errorf("linking the same certificate twice: %v", err)
	}
	if _, err := f.svc.LinkCertificate(ctx, f.scope, p.ID, LinkInput{Certificate: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}); fieldsOf(err)["certificate"] == "" {
		t.Errorf("garbage certificate: %v", err)
	}
	if _, err := f.svc.LinkCertificate(ctx, f.scope, p.ID, LinkInput{Certificate: env.ca.Issuing().Raw}); fieldsOf(err)["certificate"] == "" {
		t.Errorf("a CA certificate: %v", err)
	}
	if bytes.Contains(readFixture(t, "kz-gost2012-256.pem"), []byte("PRIVATE")) {
		t.Fatal("fixture holds a key")
	}
}

func TestDelete_RevokesThePlatformCertificatesOfThePerson(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "")
	c := f.issue(t, p, pin)
	x, _ := x509.ParseCertificate(c.DER)
	if err := f.svc.Delete(ctx, f.scope, p.ID, func(v int) bool { return v == 99 }); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale If-Match: %v", err)
	}
	if got := ocspStatus(t, x); got != ocsp.Good {
		t.Fatalf("a refused delete revoked the certificate: %d", got)
	}
	if err := f.svc.Delete(ctx, f.scope, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := ocspStatus(t, x); got != ocsp.Revoked {
		t.Fatalf("OCSP after the person was deleted: %d, want revoked", got)
	}
	if _, err := f.svc.GetCertificate(ctx, f.scope, p.ID, c.ID); !errors.Is(err, ErrCertificateNotFound) {
		t.Fatalf("the certificate outlived its person: %v", err)
	}
	var n int64
	if err := env.pg.DB.Conn(ctx).Table("person_certificates").Where("id = ?", c.ID).Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("rows left: %d %v", n, err)
	}
}
