// Package revocation gathers the validation data a long-term signature
// embeds (a PAdES /DSS dictionary): for every certificate of a chain, an
// OCSP response or CRL from the URLs the certificate names, verified
// before it is returned.
package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	// DefaultTimeout bounds one HTTP fetch when Fetcher.Timeout is zero.
	DefaultTimeout = 5 * time.Second
	// clockSkew tolerates a responder whose clock runs slightly ahead.
	clockSkew   = 5 * time.Minute
	maxOCSPSize = 1 << 20
	// maxCRLSize admits the CRLs of large public CAs.
	maxCRLSize = 32 << 20
	// maxCertSize bounds a certificate fetched from a caIssuers URL.
	maxCertSize = 64 << 10
)

var (
	// ErrRevoked means a certificate of the chain is revoked.
	ErrRevoked = errors.New("revocation: certificate revoked")
	// ErrNoData means no OCSP response or CRL could be obtained for a
	// certificate; the error says which sources were tried and why each failed.
	ErrNoData = errors.New("revocation: no validation data")
)

// Data is DER validation data for embedding: certificates (the chain and
// any delegated OCSP responder certificates), OCSP responses (the full
// OCSPResponse) and CRLs. Each slice is free of duplicates.
type Data struct {
	Certs [][]byte
	OCSPs [][]byte
	CRLs  [][]byte
}

// Fetcher fetches and verifies revocation data. The zero value is ready to
// use: OCSP first, CRLs only where OCSP fails.
type Fetcher struct {
	HTTPClient *http.Client     // nil means a default client
	Timeout    time.Duration    // per fetch; zero means DefaultTimeout
	AlwaysCRL  bool             // fetch CRLs even when OCSP answered
	Now        func() time.Time // nil means time.Now
}

// Fetch returns validation data for chain, ordered leaf first, each
// certificate followed by its issuer. The last certificate is taken as the
// trust anchor and gets no revocation data. Every non-anchor certificate
// needs a good OCSP response or a CRL that does not list it: a revoked
// certificate yields an error wrapping ErrRevoked, a certificate without
// any reachable source an error wrapping ErrNoData.
func (f *Fetcher) Fetch(ctx context.Context, chain []*x509.Certificate) (*Data, error) {
	if len(chain) == 0 {
		return nil, errors.New("revocation: empty chain")
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return nil, fmt.Errorf("revocation: %q is not issued by %q: %w",
				chain[i].Subject, chain[i+1].Subject, err)
		}
	}
	d := &Data{}
	for _, c := range chain {
		d.Certs = appendUnique(d.Certs, c.Raw)
	}
	crls := map[string][]byte{} // by URL: certificates of one CA share its CRL
	for i := 0; i+1 < len(chain); i++ {
		if err := f.forCert(ctx, chain[i], chain[i+1], d, crls); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// forCert adds the validation data of cert to d.
func (f *Fetcher) forCert(ctx context.Context, cert, issuer *x509.Certificate, d *Data, crls map[string][]byte) error {
	var failures []string
	gotOCSP := false
	for _, u := range httpURLs(cert.OCSPServer) {
		resp, responder, err := f.ocsp(ctx, u, cert, issuer)
		if errors.Is(err, ErrRevoked) {
			return err
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("OCSP %s: %v", u, err))
			continue
		}
		d.OCSPs = appendUnique(d.OCSPs, resp)
		if responder != nil {
			d.Certs = appendUnique(d.Certs, responder.Raw)
		}
		gotOCSP = true
		break
	}
	if gotOCSP && !f.AlwaysCRL {
		return nil
	}
	for _, u := range httpURLs(cert.CRLDistributionPoints) {
		der, ok := crls[u]
		if !ok {
			var err error
			if der, err = f.crl(ctx, u, issuer); err != nil {
				failures = append(failures, fmt.Sprintf("CRL %s: %v", u, err))
				continue
			}
			crls[u] = der
		}
		if err := checkNotListed(der, cert); err != nil {
			return err
		}
		d.CRLs = appendUnique(d.CRLs, der)
		return nil
	}
	if gotOCSP {
		return nil // CRLs were a bonus
	}
	if len(failures) == 0 {
		failures = append(failures, "the certificate names no http(s) OCSP responder or CRL distribution point")
	}
	return fmt.Errorf("%w for %q: %s", ErrNoData, cert.Subject, strings.Join(failures, "; "))
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) client() *http.Client {
	if f.HTTPClient != nil {
		return f.HTTPClient
	}
	return http.DefaultClient
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

// httpURLs drops ldap: and other schemes we cannot fetch.
func httpURLs(urls []string) []string {
	var out []string
	for _, u := range urls {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			out = append(out, u)
		}
	}
	return out
}

func appendUnique(list [][]byte, der []byte) [][]byte {
	for _, e := range list {
		if bytes.Equal(e, der) {
			return list
		}
	}
	return append(list, der)
}

// FetchSet returns validation data for every certificate in certs, in any
// order, and for the issuers above them up to a self-signed root: what a
// PDF's DSS needs for the signer's chain and the time-stamp authorities'
// chains together. An issuer missing from certs is fetched from the
// certificate's caIssuers URL (RFC 5280 §4.2.2.1) with the Fetcher's
// HTTPClient; a certificate whose issuer can be neither found nor fetched is
// an error wrapping ErrNoData, so no CA is silently left without revocation
// data. Each certificate is fetched for once, however often it is given.
func (f *Fetcher) FetchSet(ctx context.Context, certs []*x509.Certificate) (*Data, error) {
	d := &Data{}
	crls := map[string][]byte{}
	var set []*x509.Certificate
	for _, c := range certs {
		if !slices.ContainsFunc(set, c.Equal) {
			set = append(set, c)
		}
	}
	for i := 0; i < len(set); i++ { // set grows as issuers are fetched
		c := set[i]
		d.Certs = appendUnique(d.Certs, c.Raw)
		if isSelfSigned(c) {
			continue
		}
		issuer := issuerIn(set, c)
		if issuer == nil {
			var err error
			if issuer, err = f.fetchIssuer(ctx, c); err != nil {
				return nil, fmt.Errorf("%w for %q: its issuer is not given and %v", ErrNoData, c.Subject, err)
			}
			set = append(set, issuer)
		}
		if err := f.forCert(ctx, c, issuer, d, crls); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// fetchIssuer downloads c's issuer from its caIssuers URLs: a DER or PEM
// certificate that must have signed c.
func (f *Fetcher) fetchIssuer(ctx context.Context, c *x509.Certificate) (*x509.Certificate, error) {
	urls := httpURLs(c.IssuingCertificateURL)
	if len(urls) == 0 {
		return nil, errors.New("the certificate names no http(s) caIssuers URL")
	}
	var failures []string
	for _, u := range urls {
		der, err := f.do(ctx, http.MethodGet, u, nil, "", maxCertSize)
		if err == nil {
			if b, _ := pem.Decode(der); b != nil && b.Type == "CERTIFICATE" {
				der = b.Bytes
			}
			var issuer *x509.Certificate
			if issuer, err = x509.ParseCertificate(der); err == nil {
				if err = c.CheckSignatureFrom(issuer); err == nil {
					return issuer, nil
				}
			}
		}
		failures = append(failures, fmt.Sprintf("caIssuers %s: %v", u, err))
	}
	return nil, errors.New(strings.Join(failures, "; "))
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// issuerIn finds c's issuer among certs; a self-signed certificate has none.
func issuerIn(certs []*x509.Certificate, c *x509.Certificate) *x509.Certificate {
	if isSelfSigned(c) {
		return nil
	}
	for _, i := range certs {
		if !bytes.Equal(i.Raw, c.Raw) && bytes.Equal(i.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(i) == nil {
			return i
		}
	}
	return nil
}
