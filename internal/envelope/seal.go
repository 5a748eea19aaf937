package envelope

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/vellum-sign/vellum/pkg/pades"
)

// storeAuditTrail renders, seals and stores the audit trail under a fresh key.
func (s *Service) storeAuditTrail(ctx context.Context, env *Envelope) (string, error) {
	raw, err := s.renderAuditTrail(ctx, env, true)
	if err != nil {
		return "", err
	}
	sealed, err := s.seal(ctx, raw)
	if err != nil {
		return "", fmt.Errorf("seal audit trail of %s: %w", env.ID, err)
	}
	key := fmt.Sprintf("envelopes/%s/audit-trail-%s.pdf", env.ID, randomHex(8))
	if err := s.putPending(ctx, env.ID, key, bytes.NewReader(sealed), "application/pdf"); err != nil {
		return "", fmt.Errorf("store audit trail of %s: %w", env.ID, err)
	}
	return key, nil
}

// seal signs a PDF with the platform seal: B-LTA when a TSA and revocation
// are configured, B-T with a TSA only, B-B otherwise.
func (s *Service) seal(ctx context.Context, pdf []byte) ([]byte, error) {
	if s.PKI == nil {
		return nil, errors.New("no PKI configured for the platform seal")
	}
	cred := s.PKI.Seal()
	opts := pades.Options{
		Signer: cred.Key, Certificates: append([]*x509.Certificate{cred.Cert}, cred.Chain...),
		Level: pades.LevelBB, Name: cred.Cert.Subject.CommonName, Reason: "Audit trail sealed by the platform",
		FieldName: "PlatformSeal", Timestamper: s.Timestamper, Revocation: s.Revocation,
	}
	switch {
	case s.Timestamper != nil && s.Revocation != nil:
		opts.Level = pades.LevelBLTA
	case s.Timestamper != nil:
		opts.Level = pades.LevelBT
	}
	var out bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, opts); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
