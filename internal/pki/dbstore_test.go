package pki_test

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/testenv"
)

// TestCertStore_Contract runs the same behaviours against both stores.
func TestCertStore_Contract(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.StartPostgres(ctx, "pki")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	for name, store := range map[string]pki.CertStore{"memory": pki.NewMemoryStore(), "database": pki.NewDBStore(pg.DB)} {
		t.Run(name, func(t *testing.T) {
			now := time.Now().UTC().Truncate(time.Second)
			cert := func(serial int64, notAfter time.Time) *x509.Certificate {
				c := &x509.Certificate{SerialNumber: big.NewInt(serial), NotAfter: notAfter}
				c.Subject.CommonName = "Signer " + big.NewInt(serial).String()
				return c
			}
			live, expired := cert(0xa1, now.Add(time.Hour)), cert(0xa2, now.Add(-time.Hour))
			for _, c := range []*x509.Certificate{live, expired, live} { // recording twice is harmless
				if err := store.Record(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			e, err := store.Status(ctx, live.SerialNumber)
			if err != nil || e.Revoked() || e.Serial.Cmp(live.SerialNumber) != 0 {
				t.Fatalf("Status of a fresh certificate = %+v, %v", e, err)
			}
			if _, err := store.Status(ctx, big.NewInt(0xdead)); !errors.Is(err, pki.ErrNotFound) {
				t.Fatalf("Status of an unknown serial: %v, want ErrNotFound", err)
			}
			if err := store.Revoke(ctx, big.NewInt(0xdead), 1, now); !errors.Is(err, pki.ErrNotFound) {
				t.Fatalf("Revoke of an unknown serial: %v, want ErrNotFound", err)
			}
			for _, c := range []*x509.Certificate{live, expired} {
				if err := store.Revoke(ctx, c.SerialNumber, 1, now); err != nil {
					t.Fatal(err)
				}
			}
			if err := store.Record(ctx, live); err != nil {
				t.Fatal(err)
			}
			e, err = store.Status(ctx, live.SerialNumber)
			if err != nil || !e.Revoked() || e.Reason != 1 || !e.RevokedAt.Equal(now) {
				t.Fatalf("after revocation and re-record: %+v, %v", e, err)
			}
			revoked, err := store.Revoked(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(revoked) != 1 || revoked[0].Serial.Cmp(live.SerialNumber) != 0 {
				t.Fatalf("Revoked() = %+v, want only the unexpired revoked certificate", revoked)
			}
		})
	}
}
