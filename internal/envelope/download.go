package envelope

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/vellum-sign/vellum/internal/account"
)

// Download is a file to stream to a client.
type Download struct {
	Filename    string
	ContentType string
	Size        int64 // -1 when unknown
	Body        io.ReadCloser
}

// SignedDocument returns the signed result of a COMPLETED envelope: the PDF
// when it has one document or documentID names one, else the zip.
func (s *Service) SignedDocument(ctx context.Context, scope account.Scope, id, documentID string) (*Download, error) {
	env, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if env.Status != StatusCompleted {
		return nil, stateErr("download the signed document of", env.Status)
	}
	var doc *Document
	switch {
	case documentID != "":
		for i := range env.Documents {
			if env.Documents[i].DocumentID == documentID {
				doc = &env.Documents[i]
			}
		}
		if doc == nil {
			return nil, ValidationError{{Field: "documentId", Reason: "is not a document of this envelope"}}
		}
	case len(env.Documents) == 1:
		doc = &env.Documents[0]
	}
	if doc != nil {
		rc, obj, err := s.Blobs.Get(ctx, doc.CurrentBlobKey)
		if err != nil {
			return nil, fmt.Errorf("open signed document: %w", err)
		}
		return &Download{Filename: signedName(doc.Filename), ContentType: "application/pdf", Size: obj.Size, Body: rc}, nil
	}
	rc, obj, err := s.Blobs.Get(ctx, env.PackageKey)
	if err != nil {
		return nil, fmt.Errorf("open package: %w", err)
	}
	return &Download{Filename: env.ID + "-signed.zip", ContentType: "application/zip", Size: obj.Size, Body: rc}, nil
}

// AuditTrail returns the audit-trail PDF: the sealed one once the envelope
// is final and sealed, an interim rendering while it is SENT (or until
// the sealing task has run).
func (s *Service) AuditTrail(ctx context.Context, scope account.Scope, id string) (*Download, bool, error) {
	env, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, false, err
	}
	if env.Status == StatusDraft {
		return nil, false, stateErr("download the audit trail of", env.Status)
	}
	name := env.ID + "-audit-trail.pdf"
	if env.AuditTrailKey != "" {
		rc, obj, err := s.Blobs.Get(ctx, env.AuditTrailKey)
		if err != nil {
			return nil, false, fmt.Errorf("open audit trail: %w", err)
		}
		return &Download{Filename: name, ContentType: "application/pdf", Size: obj.Size, Body: rc}, true, nil
	}
	raw, err := s.renderAuditTrail(ctx, env, false)
	if err != nil {
		return nil, false, err
	}
	return &Download{Filename: name, ContentType: "application/pdf", Size: int64(len(raw)), Body: io.NopCloser(bytes.NewReader(raw))}, false, nil
}
