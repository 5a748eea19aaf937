package pades

import (
	"bytes"
	"crypto/x509"
	"slices"
	"time"

	"golang.org/x/crypto/ocsp"
)

// validationPool holds the certificates and revocation data a PDF carries
// (DSS, CMS certificate sets, Adobe's revocation archive) or a signer is
// about to embed, and answers which of them speak for a certificate. Signing
// uses it to check that B-LT data is complete and to fill each signature's
// VRI entry with its own data; verification to build chains and decide
// revocation status.
type validationPool struct {
	certs []*x509.Certificate
	ocsps []ocspEntry
	crls  []crlEntry
	seen  map[string]bool // DER of everything added
}

type ocspEntry struct {
	der  []byte
	resp *ocsp.Response // parsed, signature not yet checked
}

type crlEntry struct {
	der []byte
	rl  *x509.RevocationList
}

func newPool() *validationPool { return &validationPool{seen: map[string]bool{}} }

func (p *validationPool) addCert(c *x509.Certificate) {
	if c == nil || p.seen[string(c.Raw)] {
		return
	}
	p.seen[string(c.Raw)] = true
	p.certs = append(p.certs, c)
}

func (p *validationPool) addCertDER(der []byte) {
	if p.seen[string(der)] {
		return
	}
	if c, err := x509.ParseCertificate(der); err == nil {
		p.addCert(c)
	}
}

// addOCSP adds a DER OCSPResponse; unparsable data is ignored (it proves
// nothing either way).
func (p *validationPool) addOCSP(der []byte) {
	if p.seen[string(der)] {
		return
	}
	resp, err := ocsp.ParseResponse(der, nil)
	if err != nil {
		return
	}
	p.seen[string(der)] = true
	p.ocsps = append(p.ocsps, ocspEntry{der: der, resp: resp})
	if resp.Certificate != nil {
		p.addCert(resp.Certificate) // a delegated responder
	}
}

func (p *validationPool) addCRL(der []byte) {
	if p.seen[string(der)] {
		return
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return
	}
	p.seen[string(der)] = true
	p.crls = append(p.crls, crlEntry{der: der, rl: rl})
}

func (p *validationPool) add(vd ValidationData) {
	for _, c := range vd.Certs {
		p.addCertDER(c)
	}
	for _, o := range vd.OCSPs {
		p.addOCSP(o)
	}
	for _, c := range vd.CRLs {
		p.addCRL(c)
	}
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && certSignedBy(c, c) == nil
}

// issuer returns a certificate of the pool that issued c, nil when none does.
func (p *validationPool) issuer(c *x509.Certificate) *x509.Certificate {
	for _, i := range p.certs {
		if bytes.Equal(i.RawSubject, c.RawIssuer) && !bytes.Equal(i.Raw, c.Raw) && certSignedBy(c, i) == nil {
			return i
		}
	}
	return nil
}

// closure returns certs followed by their issuers, and theirs, as far as the
// pool knows them, without duplicates.
func (p *validationPool) closure(certs []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	has := func(c *x509.Certificate) bool {
		return slices.ContainsFunc(out, func(o *x509.Certificate) bool { return bytes.Equal(o.Raw, c.Raw) })
	}
	for _, c := range certs {
		for depth := 0; c != nil && depth < 10 && !has(c); depth++ {
			out = append(out, c)
			if selfSigned(c) {
				break
			}
			c = p.issuer(c)
		}
	}
	return out
}

// revocationInfo is what the pool knows about one certificate's status.
type revocationInfo struct {
	revoked   bool
	revokedAt time.Time
	// issued lists when each usable source was issued (OCSP thisUpdate, CRL
	// thisUpdate), and until when it is current (zero: no nextUpdate).
	issued, until []time.Time
	// ocsps and crls are the DER OCSP responses and CRLs that speak for it.
	ocsps, crls [][]byte
}

// found reports whether any OCSP response or CRL speaks for the certificate.
func (ri *revocationInfo) found() bool { return len(ri.ocsps)+len(ri.crls) > 0 }

// status collects the OCSP responses (signed by issuer or a responder it
// delegated to) and CRLs (signed by issuer) about c.
func (p *validationPool) status(c, issuer *x509.Certificate) revocationInfo {
	var ri revocationInfo
	for _, o := range p.ocsps {
		if o.resp.SerialNumber == nil || o.resp.SerialNumber.Cmp(c.SerialNumber) != 0 {
			continue
		}
		resp, err := ocspFor(o.der, c, issuer)
		if err != nil {
			continue
		}
		if resp.Certificate != nil && !resp.Certificate.Equal(issuer) &&
			!slices.Contains(resp.Certificate.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
			continue // RFC 6960 §4.2.2.2: a delegate must be meant for OCSP
		}
		switch resp.Status {
		case ocsp.Revoked:
			ri.markRevoked(resp.RevokedAt)
		case ocsp.Good:
		default:
			continue
		}
		ri.issued = append(ri.issued, resp.ThisUpdate)
		ri.until = append(ri.until, resp.NextUpdate)
		ri.ocsps = append(ri.ocsps, o.der)
	}
	for _, e := range p.crls {
		if !bytes.Equal(e.rl.RawIssuer, c.RawIssuer) || crlSignedBy(e.rl, issuer) != nil {
			continue
		}
		listed := false
		for _, r := range e.rl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
				listed = true
				ri.markRevoked(r.RevocationTime)
			}
		}
		// CAs drop expired certificates from their CRLs: a CRL issued after
		// c expired says nothing by not listing it.
		if !listed && e.rl.ThisUpdate.After(c.NotAfter) {
			continue
		}
		ri.issued = append(ri.issued, e.rl.ThisUpdate)
		ri.until = append(ri.until, e.rl.NextUpdate)
		ri.crls = append(ri.crls, e.der)
	}
	return ri
}

func (ri *revocationInfo) markRevoked(at time.Time) {
	if !ri.revoked || at.Before(ri.revokedAt) {
		ri.revoked, ri.revokedAt = true, at
	}
}

// provesGoodAt reports whether a source shows c unrevoked at t: it was
// issued at or after t (revocation is permanent, so a later "good" covers
// t), or t falls within its validity window.
func (ri *revocationInfo) provesGoodAt(t time.Time) bool {
	if ri.revoked && !ri.revokedAt.After(t) {
		return false
	}
	for i, issued := range ri.issued {
		if !issued.Before(t) {
			return true
		}
		if u := ri.until[i]; !u.IsZero() && !t.After(u) {
			return true
		}
	}
	return false
}
