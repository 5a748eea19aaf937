package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pdftext"
)

func (s *Service) lookupDocument(ctx context.Context, scope account.Scope, id string) (docInfo, error) {
	d, err := s.Documents.Get(ctx, scope, id)
	if errors.Is(err, document.ErrNotFound) {
		return docInfo{}, nil
	}
	if err != nil {
		return docInfo{}, err
	}
	var text *pdftext.Document
	var textErr error
	read := false
	return docInfo{found: true, signable: d.Signable, pages: d.Pages, geometry: d.PageGeometry(), sigFields: d.SignatureFields,
		text: func() (*pdftext.Document, error) {
			if !read {
				read = true
				text, textErr = s.documentText(ctx, scope, id)
			}
			return text, textErr
		}}, nil
}

// documentText extracts a document's text with positions, for anchors.
func (s *Service) documentText(ctx context.Context, scope account.Scope, id string) (*pdftext.Document, error) {
	_, rc, err := s.Documents.Open(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "vellum-text-*.pdf")
	if err != nil {
		return nil, fmt.Errorf("spool document %s: %w", id, err)
	}
	defer removeTemp(f)
	size, err := io.Copy(f, rc)
	if err != nil {
		return nil, fmt.Errorf("spool document %s: %w", id, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("spool document %s: %w", id, err)
	}
	text, err := pdftext.Extract(f)
	if err != nil {
		// A damaged file: read the clean copy signing will make of it.
		clean, rerr := pades.Rewrite(f, size)
		if rerr != nil {
			return nil, err
		}
		return pdftext.Extract(bytes.NewReader(clean))
	}
	return text, nil
}

// Create validates in and stores a DRAFT envelope.
func (s *Service) Create(ctx context.Context, scope account.Scope, actor Actor, in Input) (*Envelope, error) {
	normalize(&in)
	now := s.now()
	verrs, err := validate(ctx, scope, &in, s.lookupDocument, now, s.Fonts, s.IdentityProviders)
	if err != nil {
		return nil, err
	}
	if len(verrs) > 0 {
		return nil, verrs
	}
	env := &Envelope{
		ID: ident.New("env"), AccountID: scope.AccountID, Environment: scope.Environment,
		Status: StatusDraft, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err = s.DB.WithTx(ctx, func(ctx context.Context) error {
		if err := s.assign(ctx, env, &in); err != nil {
			return err
		}
		if err := s.store.insertEnvelope(ctx, env); err != nil {
			return err
		}
		return s.record(ctx, env, "envelope.created", actor, "", nil)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// assign copies a validated input onto env and builds its children.
func (s *Service) assign(ctx context.Context, env *Envelope, in *Input) error {
	env.Subject, env.Message = in.Subject, in.Message
	env.SigningOrder = in.SigningOrder
	env.SignText = in.SignText
	env.Language = i18n.Canonical(in.Language)
	env.ExternalReference = in.ExternalReference
	env.Metadata = in.Metadata
	if env.Metadata == nil {
		env.Metadata = map[string]string{}
	}
	env.Redirects = in.Redirects
	env.ExpiresAt = in.ExpiresAt
	env.ReminderIntervalHours = in.ReminderIntervalHours
	env.URLTTL = in.URLTTL
	env.URLTTLSeconds = 0
	if in.URLTTL != "" {
		d, _ := ParseISODuration(in.URLTTL)
		env.URLTTLSeconds = int64(d / time.Second)
	}
	env.Documents = env.Documents[:0]
	for i, id := range in.DocumentIDs {
		d, err := s.Documents.Get(ctx, env.Scope(), id)
		if err != nil {
			return fmt.Errorf("envelope document %s: %w", id, err)
		}
		env.Documents = append(env.Documents, Document{
			EnvelopeID: env.ID, DocumentID: d.ID, Position: i + 1, Filename: d.Filename, Title: d.Title,
			Pages: d.Pages, OriginalSHA256: d.SHA256, OriginalSize: d.Size, OriginalBlobKey: d.BlobKey,
			CurrentBlobKey: d.BlobKey, CurrentSHA256: d.SHA256, CurrentSize: d.Size,
		})
	}
	env.Recipients, env.Fields = nil, nil
	pos := 0
	for i, r := range in.Recipients {
		rec := Recipient{
			ID: ident.New("rcp"), EnvelopeID: env.ID, Position: i + 1, Email: r.Email, Name: r.Name,
			Role: r.Role, RoutingOrder: r.Order, AuthMethod: r.Auth, Status: RecipientPending,
			AccessCodeHash: r.accessCodeHash, AuthProvider: r.Provider, NationalID: r.NationalID,
			Locale: i18n.Canonical(r.Locale),
		}
		if r.AccessCode != "" {
			rec.AccessCodeHash = s.secretHash("access-code", rec.ID, r.AccessCode)
		}
		env.Recipients = append(env.Recipients, rec)
		for _, f := range r.Fields {
			pos++
			env.Fields = append(env.Fields, Field{
				ID: ident.New("fld"), EnvelopeID: env.ID, RecipientID: rec.ID, DocumentID: f.DocumentID,
				Position: pos, Type: f.Type, Page: f.Page, X: f.X, Y: f.Y, Width: f.Width, Height: f.Height,
				Required: f.Required, FieldName: f.FieldName, AnchorString: anchorString(f),
			})
		}
	}
	return nil
}

// inputOf rebuilds the input an envelope was made from, for PATCH.
func inputOf(env *Envelope) Input {
	in := Input{
		Subject: env.Subject, Message: env.Message, SigningOrder: env.SigningOrder, ExpiresAt: env.ExpiresAt,
		ReminderIntervalHours: env.ReminderIntervalHours, Redirects: env.Redirects,
		ExternalReference: env.ExternalReference, Metadata: env.Metadata, SignText: env.SignText, URLTTL: env.URLTTL,
		Language: env.Language,
	}
	for _, d := range env.Documents {
		in.DocumentIDs = append(in.DocumentIDs, d.DocumentID)
	}
	for _, r := range env.Recipients {
		ri := RecipientInput{Email: r.Email, Name: r.Name, Role: r.Role, Order: r.RoutingOrder, Auth: r.AuthMethod,
			accessCodeHash: r.AccessCodeHash, Provider: r.AuthProvider, NationalID: r.NationalID, Locale: r.Locale}
		for _, f := range env.fieldsOf(r.ID) {
			// An anchored field comes back at the place it was resolved to;
			// a named one is looked up again.
			ri.Fields = append(ri.Fields, FieldInput{DocumentID: f.DocumentID, Type: f.Type, Page: f.Page,
				X: f.X, Y: f.Y, Width: f.Width, Height: f.Height, Required: f.Required, FieldName: f.FieldName,
				anchoredAt: f.AnchorString})
		}
		in.Recipients = append(in.Recipients, ri)
	}
	return in
}

// Precondition checks an If-Match version; nil accepts any.
type Precondition func(version int) bool

// Update applies p to a DRAFT envelope.
func (s *Service) Update(ctx context.Context, scope account.Scope, actor Actor, id string, p Patch, pre Precondition) (*Envelope, error) {
	var env *Envelope
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.store.envelope(ctx, scope, id, true); err != nil {
			return err
		}
		if pre != nil && !pre(env.Version) {
			return fmt.Errorf("envelope %s is at version %d: %w", id, env.Version, ErrVersionMismatch)
		}
		if env.Status != StatusDraft {
			return stateErr("update", env.Status)
		}
		in := inputOf(env)
		p.apply(&in)
		normalize(&in)
		verrs, err := validate(ctx, scope, &in, s.lookupDocument, s.now(), s.Fonts, s.IdentityProviders)
		if err != nil {
			return err
		}
		if len(verrs) > 0 {
			return verrs
		}
		if p.DocumentIDs != nil || p.Recipients != nil {
			if err := s.store.deleteParts(ctx, env.ID); err != nil {
				return err
			}
		}
		if err := s.assign(ctx, env, &in); err != nil {
			return err
		}
		if p.DocumentIDs != nil || p.Recipients != nil {
			if err := s.store.insertParts(ctx, env); err != nil {
				return err
			}
		} else if err := s.store.loadParts(ctx, env); err != nil {
			return err
		}
		env.Version++
		env.UpdatedAt = s.now()
		if err := s.store.saveEnvelope(ctx, env); err != nil {
			return err
		}
		return s.record(ctx, env, "envelope.updated", actor, "", nil)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// Delete deletes a DRAFT envelope or voids a SENT one (with reason). It
// reports whether the envelope was deleted, and the voided envelope if not.
func (s *Service) Delete(ctx context.Context, scope account.Scope, actor Actor, id, reason string, pre Precondition) (bool, *Envelope, error) {
	var env *Envelope
	deleted := false
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.store.envelope(ctx, scope, id, true); err != nil {
			return err
		}
		if pre != nil && !pre(env.Version) {
			return fmt.Errorf("envelope %s is at version %d: %w", id, env.Version, ErrVersionMismatch)
		}
		switch env.Status {
		case StatusDraft:
			deleted = true
			return s.store.deleteEnvelope(ctx, env.ID)
		case StatusSent:
			return s.void(ctx, env, actor, reason)
		default:
			return stateErr("void", env.Status)
		}
	})
	if err != nil {
		return false, nil, err
	}
	if deleted {
		return true, nil, nil
	}
	return false, env, nil
}
