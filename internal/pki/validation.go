package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"

	"github.com/vellum-sign/vellum/pkg/pades"
)

// Revocation returns the validation data source for PAdES B-LT and B-LTA:
// certificates this PKI issued get their status straight from it, without
// a round trip through its public URL — an OCSP response for each one
// still valid now, and for the issuing CA the root's OCSP response and CRL
// when the root key is loaded. Every other certificate (another TSA's
// chain, another signer's) is passed to fallback, which may be nil.
//
// Called when a signature is made, this captures the proof that the
// certificate was good while it was valid; the PDF keeps it in its DSS, so
// nothing needs fetching once the short-lived certificate has expired.
func (p *PKI) Revocation(fallback pades.RevocationFunc) pades.RevocationFunc {
	return func(ctx context.Context, certs []*x509.Certificate) (pades.ValidationData, error) {
		var vd pades.ValidationData
		var foreign []*x509.Certificate
		ours := false
		now := p.now()
		for _, c := range certs {
			switch {
			case c.Equal(p.m.Root) || c.Equal(p.m.Issuing):
				ours = true
			case bytes.Equal(c.RawIssuer, p.m.Issuing.RawSubject) && pades.CertSignedBy(c, p.m.Issuing) == nil:
				ours = true
				vd.Certs = append(vd.Certs, c.Raw)
				if now.Before(c.NotBefore) || now.After(c.NotAfter) {
					// Outside its validity a status says nothing useful:
					// the one captured while it was valid stands.
					continue
				}
				der, err := p.ocspFor(ctx, c)
				if err != nil {
					return vd, fmt.Errorf("pki: OCSP response for %q: %w", c.Subject.CommonName, err)
				}
				vd.OCSPs = append(vd.OCSPs, der)
			default:
				foreign = append(foreign, c)
			}
		}
		if ours {
			vd.Certs = append(vd.Certs, p.m.Issuing.Raw, p.m.Root.Raw)
			if p.m.RootKey != nil {
				der, err := p.ocspFor(ctx, p.m.Issuing)
				if err != nil {
					return vd, fmt.Errorf("pki: OCSP response for the issuing CA: %w", err)
				}
				// The issuing CA's certificate names only the root CRL, so
				// validators that follow it find that too.
				crl, err := p.CRL(ctx, "root")
				if err != nil {
					return vd, err
				}
				vd.OCSPs = append(vd.OCSPs, der)
				vd.CRLs = append(vd.CRLs, crl)
			}
		}
		if len(foreign) > 0 && fallback != nil {
			more, err := fallback(ctx, foreign)
			if err != nil {
				return vd, err
			}
			vd.Certs = append(vd.Certs, more.Certs...)
			vd.OCSPs = append(vd.OCSPs, more.OCSPs...)
			vd.CRLs = append(vd.CRLs, more.CRLs...)
		}
		return vd, nil
	}
}
