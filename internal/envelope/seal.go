package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/vellum-sign/vellum/internal/seal"
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
	var out bytes.Buffer
	err := seal.Sealer{Timestamper: s.Timestamper, Revocation: s.Revocation}.
		Seal(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, s.PKI.Seal(), "Audit trail sealed by the platform", "PlatformSeal")
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
