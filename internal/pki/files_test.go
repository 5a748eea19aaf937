package pki_test

import (
	"context"
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/pki"
)

func TestLoadOrCreate_GeneratesOnceAndKeepsKeysPrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pki")
	first, err := pki.LoadOrCreate(ctx, dir, "http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"root.key", "issuing.key", "seal.key", "tsa.key"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", name, err, st.Mode().Perm())
		}
	}
	again, err := pki.LoadOrCreate(ctx, dir, "http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Root().Equal(first.Root()) || !again.Seal().Cert.Equal(first.Seal().Cert) {
		t.Error("second start did not load the same hierarchy")
	}
	moved, err := pki.LoadOrCreate(ctx, dir, "https://sign.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if !moved.Root().Equal(first.Root()) || !moved.Seal().Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(first.Seal().Key.Public()) {
		t.Error("a new base URL must keep the root and the keys")
	}
	if got := moved.Seal().Cert.OCSPServer; len(got) != 1 || got[0] != "https://sign.example.com/pki/ocsp" {
		t.Errorf("seal OCSP URL after base URL change: %v", got)
	}
	if got := moved.Issuing().CRLDistributionPoints; len(got) != 1 || got[0] != "https://sign.example.com/pki/crl/root.crl" {
		t.Errorf("issuing CA CDP after base URL change: %v", got)
	}
}

func TestLoadOrCreate_RefusesIncompleteDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.LoadOrCreate(context.Background(), dir, "http://localhost:8080"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "tsa.key"))
	_, err := pki.LoadOrCreate(context.Background(), dir, "http://localhost:8080")
	if err == nil || !strings.Contains(err.Error(), "missing tsa.key") {
		t.Errorf("got %v, want an error naming tsa.key", err)
	}
}

func TestLoad_ProductionFilesWithoutRootKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := pki.LoadOrCreate(ctx, dir, "http://localhost:8080"); err != nil {
		t.Fatal(err)
	}
	paths := pki.DirPaths(dir)
	paths.RootKey = ""
	p, err := pki.Load(ctx, paths, "http://localhost:8080")
	if err != nil {
		t.Fatalf("Load without root key: %v", err)
	}
	if _, err := p.CRL(ctx, "root"); err == nil {
		t.Error("root CRL served without the root key")
	}
	if _, err := p.IssueSigner(ctx, "Ada", "ada@example.com"); err != nil {
		t.Errorf("IssueSigner: %v", err)
	}

	paths.SealKey = paths.TSAKey // a key that does not match the seal certificate
	if _, err := pki.Load(ctx, paths, "http://localhost:8080"); err == nil || !strings.Contains(err.Error(), "seal key does not match") {
		t.Errorf("mismatched key: got %v", err)
	}
	if _, err := pki.Load(ctx, pki.DirPaths(dir), "not a url"); err == nil {
		t.Error("invalid base URL accepted")
	}
}
