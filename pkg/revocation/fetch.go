package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"slices"

	"golang.org/x/crypto/ocsp"
)

// ocsp POSTs an OCSP request for cert and verifies the answer: signed by
// the issuer or a responder it delegated to, about this very certificate,
// current, and good. It returns the DER response and the delegated
// responder certificate, if any.
func (f *Fetcher) ocsp(ctx context.Context, url string, cert, issuer *x509.Certificate) ([]byte, *x509.Certificate, error) {
	// SHA-1 CertIDs are what every responder supports; the hash only
	// identifies the issuer here, it protects nothing.
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	der, err := f.do(ctx, http.MethodPost, url, req, "application/ocsp-request", maxOCSPSize)
	if err != nil {
		return nil, nil, err
	}
	resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid response: %w", err)
	}
	var responder *x509.Certificate
	if resp.Certificate != nil && !resp.Certificate.Equal(issuer) {
		// ParseResponseForCert checked that the issuer signed this
		// certificate; RFC 6960 §4.2.2.2 also requires it to be meant for OCSP.
		if !slices.Contains(resp.Certificate.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
			return nil, nil, fmt.Errorf("responder certificate %q lacks the OCSPSigning usage", resp.Certificate.Subject)
		}
		responder = resp.Certificate
	}
	now := f.now()
	if resp.ThisUpdate.After(now.Add(clockSkew)) {
		return nil, nil, fmt.Errorf("response thisUpdate %v is in the future", resp.ThisUpdate)
	}
	if !resp.NextUpdate.IsZero() && resp.NextUpdate.Before(now) {
		return nil, nil, fmt.Errorf("response expired at %v", resp.NextUpdate)
	}
	switch resp.Status {
	case ocsp.Good:
		return der, responder, nil
	case ocsp.Revoked:
		return nil, nil, fmt.Errorf("%w: %q (serial %x) at %v per OCSP %s",
			ErrRevoked, cert.Subject, cert.SerialNumber, resp.RevokedAt, url)
	default:
		return nil, nil, fmt.Errorf("responder does not know the certificate")
	}
}

// crl fetches a CRL and checks that issuer signed it and that it is current.
func (f *Fetcher) crl(ctx context.Context, url string, issuer *x509.Certificate) ([]byte, error) {
	der, err := f.do(ctx, http.MethodGet, url, nil, "", maxCRLSize)
	if err != nil {
		return nil, err
	}
	if b, _ := pem.Decode(der); b != nil && b.Type == "X509 CRL" {
		der = b.Bytes // a few CAs publish PEM despite RFC 5280 §4.2.1.13
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("not signed by %q: %w", issuer.Subject, err)
	}
	now := f.now()
	if rl.ThisUpdate.After(now.Add(clockSkew)) {
		return nil, fmt.Errorf("thisUpdate %v is in the future", rl.ThisUpdate)
	}
	if !rl.NextUpdate.IsZero() && rl.NextUpdate.Before(now) {
		return nil, fmt.Errorf("expired at %v", rl.NextUpdate)
	}
	return der, nil
}

// checkNotListed fails with ErrRevoked when the CRL lists cert.
func checkNotListed(der []byte, cert *x509.Certificate) error {
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return fmt.Errorf("revocation: parse CRL: %w", err) // verified before; cannot happen
	}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return fmt.Errorf("%w: %q (serial %x) at %v per CRL", ErrRevoked, cert.Subject, cert.SerialNumber, e.RevocationTime)
		}
	}
	return nil
}

func (f *Fetcher) do(ctx context.Context, method, url string, body []byte, contentType string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(der)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return der, nil
}
