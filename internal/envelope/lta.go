package envelope

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/revocation"
)

// extendLTA makes a document PAdES B-LTA: a DSS revision with the
// validation data of every certificate its signatures and time-stamps rely
// on, then a document timestamp over everything. Each Vellum signer's own
// data went into the document when it signed (see signDocuments), while
// its short-lived certificate was valid; what is added here is current
// data for the certificates still valid — the time-stamp authorities'
// chains, which the document timestamp must show good now, and any
// certificate of a signature made elsewhere.
//
// Signatures made elsewhere (already in the uploaded PDF) get their data
// best effort: their certificates name the addresses to fetch from, so
// whoever made the PDF chooses them, and an unreachable or refused one must
// not hold the envelope back. What could not be had is returned, one line
// per signature, for the audit trail.
func (s *Service) extendLTA(ctx context.Context, env *Envelope, in *os.File, size int64, out io.Writer) ([]string, error) {
	if s.Timestamper == nil {
		return nil, errors.New("no time-stamping authority configured for B-LTA")
	}
	rep, err := pades.Verify(in, size, pades.VerifyOptions{SkipTrust: true}) // which signatures, not whether trusted
	if err != nil {
		return nil, fmt.Errorf("read signatures: %w", err)
	}
	var ours []*x509.Certificate
	var foreign []pades.SignatureReport
	for _, sig := range rep.Signatures {
		if ownSignature(env, sig.FieldName) {
			ours = append(append(ours, sig.Certificates...), sig.TimestampCertificates...)
		} else {
			foreign = append(foreign, sig)
		}
	}
	var vd pades.ValidationData
	var gaps []string
	switch {
	case s.Revocation == nil:
		for _, sig := range rep.Signatures {
			for _, c := range append(append([]*x509.Certificate{}, sig.Certificates...), sig.TimestampCertificates...) {
				vd.Certs = append(vd.Certs, c.Raw)
			}
		}
	default:
		if len(ours) > 0 {
			if vd, err = s.Revocation(ctx, ours); err != nil {
				return nil, fmt.Errorf("revocation data: %w", err)
			}
		}
		for _, sig := range foreign {
			certs := append(append([]*x509.Certificate{}, sig.Certificates...), sig.TimestampCertificates...)
			if len(certs) == 0 {
				continue
			}
			more, err := s.Revocation(ctx, certs)
			if err != nil {
				gaps = append(gaps, fmt.Sprintf("signature %q: %s", sig.FieldName, db.Clip(err.Error(), 300)))
				for _, c := range certs {
					more.Certs = append(more.Certs, c.Raw)
				}
			}
			vd = mergeValidationData(vd, more)
		}
	}
	mid, err := os.CreateTemp("", "vellum-dss-*.pdf")
	if err != nil {
		return gaps, fmt.Errorf("spool DSS revision: %w", err)
	}
	defer removeTemp(mid)
	cw := &countWriter{w: mid}
	if err := pades.AddDSS(ctx, in, size, cw, vd); err != nil {
		return gaps, fmt.Errorf("add DSS: %w", err)
	}
	if err := pades.AddDocumentTimestamp(ctx, mid, cw.n, out, s.Timestamper); err != nil {
		return gaps, fmt.Errorf("add document timestamp: %w", err)
	}
	return gaps, nil
}

// ownSignature reports whether a signature field is one this envelope's
// signers made (see signDocuments for the name).
func ownSignature(env *Envelope, field string) bool {
	for _, r := range env.Recipients {
		if strings.HasPrefix(field, "Signature-"+r.ID+"-") {
			return true
		}
	}
	return false
}

// mergeValidationData appends b's items to a's, once each.
func mergeValidationData(a, b pades.ValidationData) pades.ValidationData {
	seen := map[string]bool{}
	for _, l := range [][][]byte{a.Certs, a.OCSPs, a.CRLs} {
		for _, x := range l {
			seen[string(x)] = true
		}
	}
	add := func(dst [][]byte, items [][]byte) [][]byte {
		for _, x := range items {
			if !seen[string(x)] {
				seen[string(x)] = true
				dst = append(dst, x)
			}
		}
		return dst
	}
	a.Certs, a.OCSPs, a.CRLs = add(a.Certs, b.Certs), add(a.OCSPs, b.OCSPs), add(a.CRLs, b.CRLs)
	return a
}

// RevocationFrom adapts a revocation.Fetcher to pades: each end-entity
// certificate among those given is chained (through the others and roots)
// and its chain's OCSP responses or CRLs are fetched and merged.
func RevocationFrom(f *revocation.Fetcher, roots ...*x509.Certificate) pades.RevocationFunc {
	return func(ctx context.Context, certs []*x509.Certificate) (pades.ValidationData, error) {
		pool := append(append([]*x509.Certificate{}, certs...), roots...)
		var vd pades.ValidationData
		seen := map[string]bool{}
		add := func(dst *[][]byte, items [][]byte) {
			for _, b := range items {
				k := sha256Hex(b)
				if !seen[k] {
					seen[k] = true
					*dst = append(*dst, b)
				}
			}
		}
		done := map[string]bool{}
		for _, c := range certs {
			if c.IsCA || done[string(c.Raw)] {
				continue
			}
			done[string(c.Raw)] = true
			chain := []*x509.Certificate{c}
			for cur := c; len(chain) < 6; {
				if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
					break
				}
				var issuer *x509.Certificate
				for _, cand := range pool {
					if bytes.Equal(cand.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(cand) == nil {
						issuer = cand
						break
					}
				}
				if issuer == nil {
					break
				}
				chain = append(chain, issuer)
				cur = issuer
			}
			if len(chain) < 2 {
				add(&vd.Certs, [][]byte{c.Raw})
				continue
			}
			data, err := f.Fetch(ctx, chain)
			if err != nil {
				return vd, fmt.Errorf("revocation data for %q: %w", c.Subject.CommonName, err)
			}
			add(&vd.Certs, data.Certs)
			add(&vd.OCSPs, data.OCSPs)
			add(&vd.CRLs, data.CRLs)
		}
		return vd, nil
	}
}
