package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// devOrganization names the generated development hierarchy, so nobody
// mistakes its certificates for production ones.
const devOrganization = "Vellum Development"

// Paths are the PEM files of a PKI. Keys may be left empty when they come
// from elsewhere (an HSM, see PKCS11Signer); RootKey normally is.
type Paths struct {
	RootCert, RootKey       string
	IssuingCert, IssuingKey string
	SealCert, SealKey       string
	TSACert, TSAKey         string
}

// DirPaths are the file names LoadOrCreate uses inside dir.
func DirPaths(dir string) Paths {
	f := func(n string) string { return filepath.Join(dir, n) }
	return Paths{
		RootCert: f("root.crt"), RootKey: f("root.key"),
		IssuingCert: f("issuing.crt"), IssuingKey: f("issuing.key"),
		SealCert: f("seal.crt"), SealKey: f("seal.key"),
		TSACert: f("tsa.crt"), TSAKey: f("tsa.key"),
	}
}

func (p Paths) all() []string {
	return []string{p.RootCert, p.RootKey, p.IssuingCert, p.IssuingKey, p.SealCert, p.SealKey, p.TSACert, p.TSAKey}
}

// Load reads the PEM files named in paths and returns the PKI (production).
func Load(ctx context.Context, paths Paths, baseURL string, opts ...Option) (*PKI, error) {
	m, err := LoadMaterial(paths)
	if err != nil {
		return nil, err
	}
	return New(ctx, m, baseURL, opts...)
}

// LoadMaterial reads the certificates and keys whose paths are non-empty.
func LoadMaterial(paths Paths) (Material, error) {
	var m Material
	certs := []struct {
		path string
		dst  **x509.Certificate
	}{{paths.RootCert, &m.Root}, {paths.IssuingCert, &m.Issuing}, {paths.SealCert, &m.Seal}, {paths.TSACert, &m.TSA}}
	for _, c := range certs {
		if c.path == "" {
			continue
		}
		cert, err := readCertificate(c.path)
		if err != nil {
			return Material{}, err
		}
		*c.dst = cert
	}
	keys := []struct {
		path string
		dst  *crypto.Signer
	}{{paths.RootKey, &m.RootKey}, {paths.IssuingKey, &m.IssuingKey}, {paths.SealKey, &m.SealKey}, {paths.TSAKey, &m.TSAKey}}
	for _, k := range keys {
		if k.path == "" {
			continue
		}
		key, err := readKey(k.path)
		if err != nil {
			return Material{}, err
		}
		*k.dst = key
	}
	return m, nil
}

// LoadOrCreate loads the PKI kept in dir, generating a development
// hierarchy there on first start (`vellum dev`). When baseURL changed since
// the certificates were made, the issuing CA, seal and TSA certificates are
// re-issued with their existing keys so their URLs point at the new base.
func LoadOrCreate(ctx context.Context, dir, baseURL string, opts ...Option) (*PKI, error) {
	urls, err := NewURLs(baseURL)
	if err != nil {
		return nil, err
	}
	// Certificates made here start at the PKI's clock, so that tests can
	// place a whole hierarchy in the past.
	clock := &PKI{now: time.Now}
	for _, o := range opts {
		o(clock)
	}
	paths := DirPaths(dir)
	var missing []string
	for _, p := range paths.all() {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, filepath.Base(p))
		} else if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
	}
	var m Material
	switch len(missing) {
	case len(paths.all()):
		if m, err = generate(urls, clock.now()); err != nil {
			return nil, err
		}
		if err := write(paths, m); err != nil {
			return nil, err
		}
	case 0:
		if m, err = LoadMaterial(paths); err != nil {
			return nil, err
		}
		if len(m.Seal.OCSPServer) == 0 || m.Seal.OCSPServer[0] != urls.OCSP {
			if err := m.reissue(urls, clock.now()); err != nil {
				return nil, err
			}
			if err := write(paths, m); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("pki: %s holds an incomplete PKI (missing %s); remove the directory to regenerate it",
			dir, strings.Join(missing, ", "))
	}
	return New(ctx, m, baseURL, opts...)
}

// generate creates a complete development hierarchy valid from now.
func generate(urls URLs, now time.Time) (Material, error) {
	var m Material
	var err error
	keys := []struct {
		dst   *crypto.Signer
		curve elliptic.Curve
	}{{&m.RootKey, elliptic.P384()}, {&m.IssuingKey, elliptic.P384()}, {&m.SealKey, elliptic.P256()}, {&m.TSAKey, elliptic.P256()}}
	for _, k := range keys {
		key, err := ecdsa.GenerateKey(k.curve, rand.Reader)
		if err != nil {
			return Material{}, fmt.Errorf("pki: generate key: %w", err)
		}
		*k.dst = key
	}
	rootTmpl := caTemplate(devOrganization+" Root CA", devOrganization, now, rootValidity, 1)
	if m.Root, err = issue(rootTmpl, nil, m.RootKey.Public(), m.RootKey); err != nil {
		return Material{}, fmt.Errorf("pki: root CA: %w", err)
	}
	return m, m.reissue(urls, now)
}

// reissue (re)creates the issuing CA, seal and TSA certificates for the
// existing keys under urls, valid from t. It needs the root key.
func (m *Material) reissue(urls URLs, t time.Time) error {
	if m.RootKey == nil {
		return errors.New("pki: re-issuing certificates for a new base URL needs the root key")
	}
	org := devOrganization
	if len(m.Root.Subject.Organization) > 0 {
		org = m.Root.Subject.Organization[0]
	}
	issTmpl := caTemplate(org+" Issuing CA", org, t, issuingValidity, 0)
	issTmpl.CRLDistributionPoints = []string{urls.RootCRL}
	issTmpl.IssuingCertificateURL = []string{urls.RootCert}
	var err error
	if m.Issuing, err = issue(issTmpl, m.Root, m.IssuingKey.Public(), m.RootKey); err != nil {
		return fmt.Errorf("pki: issuing CA: %w", err)
	}
	if m.Seal, err = issue(sealTemplate(org, t, urls), m.Issuing, m.SealKey.Public(), m.IssuingKey); err != nil {
		return fmt.Errorf("pki: seal certificate: %w", err)
	}
	tsaTmpl, err := tsaTemplate(org, t, urls)
	if err != nil {
		return err
	}
	if m.TSA, err = issue(tsaTmpl, m.Issuing, m.TSAKey.Public(), m.IssuingKey); err != nil {
		return fmt.Errorf("pki: TSA certificate: %w", err)
	}
	return nil
}

// write stores m as PEM: certificates 0644, keys 0600 in a 0700 directory.
func write(paths Paths, m Material) error {
	if err := os.MkdirAll(filepath.Dir(paths.RootCert), 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	for _, c := range []struct {
		path string
		cert *x509.Certificate
	}{{paths.RootCert, m.Root}, {paths.IssuingCert, m.Issuing}, {paths.SealCert, m.Seal}, {paths.TSACert, m.TSA}} {
		if err := writePEM(c.path, "CERTIFICATE", c.cert.Raw, 0o644); err != nil {
			return err
		}
	}
	for _, k := range []struct {
		path string
		key  crypto.Signer
	}{{paths.RootKey, m.RootKey}, {paths.IssuingKey, m.IssuingKey}, {paths.SealKey, m.SealKey}, {paths.TSAKey, m.TSAKey}} {
		if _, err := os.Stat(k.path); err == nil {
			continue // keys are never rewritten
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return fmt.Errorf("pki: encode %s: %w", k.path, err)
		}
		if err := writePEM(k.path, "PRIVATE KEY", der, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// writePEM writes through a temporary file so a crash never leaves half a file.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	return nil
}

func readPEM(path string, types ...string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, fmt.Errorf("pki: %s: no PEM block of type %s", path, strings.Join(types, " or "))
		}
		if slices.Contains(types, b.Type) {
			return b, nil
		}
	}
}

func readCertificate(path string) (*x509.Certificate, error) {
	b, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return cert, nil
}

// readKey accepts PKCS #8, SEC 1 (EC) and PKCS #1 (RSA) PEM keys.
func readKey(path string) (crypto.Signer, error) {
	b, err := readPEM(path, "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	var key any
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: %s: %T is not a signing key", path, key)
	}
	return s, nil
}
