package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ocspValidity is the nextUpdate horizon of OCSP responses.
const ocspValidity = time.Hour

// OCSP answers a DER OCSP request with a DER OCSP response signed by the
// issuing CA. Request nonces are not echoed: x/crypto/ocsp cannot write
// responseExtensions, and RFC 8954 leaves nonce support to the responder
// (openssl only warns). Requests the responder cannot answer get the OCSP error
// responses of RFC 6960 §2.3 rather than a Go error; the error is reserved
// for failures of the store or the signing key.
func (p *PKI) OCSP(ctx context.Context, reqDER []byte) ([]byte, error) {
	req, err := ocsp.ParseRequest(reqDER)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, nil
	}
	if !p.authoritativeFor(req) {
		return ocsp.UnauthorizedErrorResponse, nil
	}
	now := p.now()
	tmpl := ocsp.Response{
		SerialNumber: req.SerialNumber,
		IssuerHash:   req.HashAlgorithm, // answer with the CertID the client used
		ThisUpdate:   now,
		NextUpdate:   now.Add(ocspValidity),
		Status:       ocsp.Unknown,
	}
	entry, err := p.store.Status(ctx, req.SerialNumber)
	switch {
	case errors.Is(err, ErrNotFound):
		// unknown: never issued here, or issued before a store reset
	case err != nil:
		return nil, fmt.Errorf("pki: ocsp status of %s: %w", req.SerialNumber.Text(16), err)
	case entry.Revoked():
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, entry.RevokedAt, entry.Reason
	default:
		tmpl.Status = ocsp.Good
	}
	der, err := ocsp.CreateResponse(p.m.Issuing, p.m.Issuing, tmpl, p.m.IssuingKey)
	if err != nil {
		return nil, fmt.Errorf("pki: sign ocsp response: %w", err)
	}
	return der, nil
}

// authoritativeFor reports whether the request's CertID names our issuing
// CA, hashed with whatever algorithm the client chose.
func (p *PKI) authoritativeFor(req *ocsp.Request) bool {
	h := req.HashAlgorithm
	if !h.Available() {
		return false
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(p.m.Issuing.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	return bytes.Equal(hashOf(h, p.m.Issuing.RawSubject), req.IssuerNameHash) &&
		bytes.Equal(hashOf(h, spki.PublicKey.RightAlign()), req.IssuerKeyHash)
}

func hashOf(h crypto.Hash, data []byte) []byte {
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}
