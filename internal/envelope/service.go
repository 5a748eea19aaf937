package envelope

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/mail"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/webhook"
	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pdffont"
	"github.com/vellum-sign/vellum/pkg/pdftext"
)

// Publisher fans events out to webhooks inside the caller's transaction.
type Publisher interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// PKI issues per-signer certificates and holds the platform seal;
// internal/pki's *PKI is one.
type PKI interface {
	IssueSigner(ctx context.Context, name, email string) (*pki.Credential, error)
	Seal() pki.Credential
}

// Deps are what the service is built from.
type Deps struct {
	DB        *db.DB
	Outbox    *jobs.Outbox
	Blobs     blob.Store
	Documents *document.Service
	Accounts  *account.Service
	EventLog  *audit.Log
	// Publisher is optional: nil publishes nothing.
	Publisher Publisher
	// Mailer delivers notifications from tasks; nil drops them (logged).
	Mailer mail.Mailer
	// PKI issues signer certificates and the seal; Timestamper and
	// Revocation make documents B-LTA at finalisation.
	PKI         PKI
	Timestamper cms.Timestamper
	Revocation  pades.RevocationFunc
	// Fonts are tried, in order, for characters of names and text the
	// built-in fonts lack, in stamps and audit trails (VELLUM_FONT_PATH).
	Fonts []*pdffont.Font
	// PublicURL is the base of signUrl links and e-mailed links.
	PublicURL string
	// TokenKey (≥ 32 bytes) derives signing tokens and one-time codes from
	// session ids, so only their hashes need be stored.
	TokenKey []byte
	// MaxAttachmentBytes bounds the signed documents attached to a
	// completion e-mail; larger results are linked (default 10 MB).
	MaxAttachmentBytes int64
	Log                *slog.Logger
	Now                func() time.Time
}

// Service runs the envelope workflow.
type Service struct {
	Deps
}

// NewService checks deps and returns the service.
func NewService(d Deps) (*Service, error) {
	if d.DB == nil || d.Outbox == nil || d.Blobs == nil || d.Documents == nil || d.EventLog == nil {
		return nil, errors.New("envelope: DB, Outbox, Blobs, Documents and EventLog are required")
	}
	if len(d.TokenKey) < 32 {
		return nil, errors.New("envelope: the token key must be at least 32 bytes")
	}
	d.PublicURL = strings.TrimSuffix(d.PublicURL, "/")
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxAttachmentBytes <= 0 {
		d.MaxAttachmentBytes = 10 << 20
	}
	return &Service{Deps: d}, nil
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Actor is who causes a change, as the event log records it.
type Actor struct {
	// Name is "api:<key id>", "recipient:<id>" or "system".
	Name      string
	IP        string
	UserAgent string
}

// System is the actor of background work.
var System = Actor{Name: "system"}

// --- loading -------------------------------------------------------------

func (s *Service) scoped(ctx context.Context, scope account.Scope) *gorm.DB {
	return s.DB.Conn(ctx).Model(&Envelope{}).
		Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
}

// Get returns the envelope id of scope with its documents, recipients,
// fields and sessions; another scope's envelope is ErrNotFound.
func (s *Service) Get(ctx context.Context, scope account.Scope, id string) (*Envelope, error) {
	return s.get(ctx, scope, id, false)
}

func (s *Service) get(ctx context.Context, scope account.Scope, id string, forUpdate bool) (*Envelope, error) {
	q := s.scoped(ctx, scope).Where("id = ?", id)
	if forUpdate {
		q = s.DB.ForUpdate(q, false)
	}
	return s.take(ctx, q, id)
}

// lockByID locks an envelope by id alone, for tasks and signer calls that
// reach it through a task payload or a token rather than an API key.
func (s *Service) lockByID(ctx context.Context, id string) (*Envelope, error) {
	return s.take(ctx, s.DB.ForUpdate(s.DB.Conn(ctx).Model(&Envelope{}).Where("id = ?", id), false), id)
}

// take runs q for envelope id and loads its parts.
func (s *Service) take(ctx context.Context, q *gorm.DB, id string) (*Envelope, error) {
	var env Envelope
	if err := q.Take(&env).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("envelope %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get envelope %s: %w", id, err)
	}
	if err := s.load(ctx, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

func (s *Service) load(ctx context.Context, env *Envelope) error {
	c := s.DB.Conn(ctx)
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Documents).Error; err != nil {
		return fmt.Errorf("load documents of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Recipients).Error; err != nil {
		return fmt.Errorf("load recipients of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Fields).Error; err != nil {
		return fmt.Errorf("load fields of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Find(&env.Sessions).Error; err != nil {
		return fmt.Errorf("load sessions of %s: %w", env.ID, err)
	}
	return nil
}

// Filter narrows an envelope list.
type Filter struct {
	Statuses          []Status
	SubjectLike       string
	ExternalReference string
}

var envelopeColumns = map[string]string{
	"createdAt": "created_at", "updatedAt": "updated_at", "subject": "subject",
	"status": "status", "expiresAt": "expires_at", "sentAt": "sent_at", "completedAt": "completed_at",
}

// SortFields are the fields envelopes can be sorted by.
var SortFields = []string{"createdAt", "updatedAt", "subject", "status", "expiresAt", "sentAt", "completedAt"}

// List returns one page of scope's envelopes, each with its children.
func (s *Service) List(ctx context.Context, scope account.Scope, q listing.Query, f Filter) (listing.Page[Envelope], error) {
	base := s.scoped(ctx, scope)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	if len(f.Statuses) > 0 {
		base = base.Where("status IN ?", f.Statuses)
	}
	if f.SubjectLike != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f.SubjectLike))
		base = base.Where(`LOWER(subject) LIKE ? ESCAPE '\'`, "%"+esc+"%")
	}
	if f.ExternalReference != "" {
		base = base.Where("external_reference = ?", f.ExternalReference)
	}
	var page listing.Page[Envelope]
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count envelopes: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(envelopeColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list envelopes: %w", err)
	}
	for i := range page.Items {
		if err := s.load(ctx, &page.Items[i]); err != nil {
			return page, err
		}
	}
	return page, nil
}

// --- create, update, delete ---------------------------------------------

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
	verrs, err := validate(ctx, scope, &in, s.lookupDocument, now, s.Fonts)
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
		if err := s.DB.Conn(ctx).Create(env).Error; err != nil {
			return fmt.Errorf("create envelope: %w", err)
		}
		if err := s.insertChildren(ctx, env); err != nil {
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
			AccessCodeHash: r.accessCodeHash,
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

func (s *Service) insertChildren(ctx context.Context, env *Envelope) error {
	c := s.DB.Conn(ctx)
	if len(env.Documents) > 0 {
		if err := c.Create(&env.Documents).Error; err != nil {
			return fmt.Errorf("store envelope documents: %w", err)
		}
	}
	if len(env.Recipients) > 0 {
		if err := c.Create(&env.Recipients).Error; err != nil {
			return fmt.Errorf("store recipients: %w", err)
		}
	}
	if len(env.Fields) > 0 {
		if err := c.Create(&env.Fields).Error; err != nil {
			return fmt.Errorf("store fields: %w", err)
		}
	}
	return nil
}

func (s *Service) deleteChildren(ctx context.Context, envID string) error {
	c := s.DB.Conn(ctx)
	for _, m := range []any{&Field{}, &Session{}, &Recipient{}, &Document{}} {
		if err := c.Where("envelope_id = ?", envID).Delete(m).Error; err != nil {
			return fmt.Errorf("delete children of %s: %w", envID, err)
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
	}
	for _, d := range env.Documents {
		in.DocumentIDs = append(in.DocumentIDs, d.DocumentID)
	}
	for _, r := range env.Recipients {
		ri := RecipientInput{Email: r.Email, Name: r.Name, Role: r.Role, Order: r.RoutingOrder, Auth: r.AuthMethod,
			accessCodeHash: r.AccessCodeHash}
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
		if env, err = s.get(ctx, scope, id, true); err != nil {
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
		verrs, err := validate(ctx, scope, &in, s.lookupDocument, s.now(), s.Fonts)
		if err != nil {
			return err
		}
		if len(verrs) > 0 {
			return verrs
		}
		if p.DocumentIDs != nil || p.Recipients != nil {
			if err := s.deleteChildren(ctx, env.ID); err != nil {
				return err
			}
		}
		if err := s.assign(ctx, env, &in); err != nil {
			return err
		}
		if p.DocumentIDs != nil || p.Recipients != nil {
			if err := s.insertChildren(ctx, env); err != nil {
				return err
			}
		} else if err := s.load(ctx, env); err != nil {
			return err
		}
		env.Version++
		env.UpdatedAt = s.now()
		if err := s.save(ctx, env); err != nil {
			return err
		}
		return s.record(ctx, env, "envelope.updated", actor, "", nil)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// save writes the envelope row (not its children).
func (s *Service) save(ctx context.Context, env *Envelope) error {
	if err := s.DB.Conn(ctx).Select("*").Omit("id", "account_id", "environment", "created_at").Save(env).Error; err != nil {
		return fmt.Errorf("save envelope %s: %w", env.ID, err)
	}
	return nil
}

// Delete deletes a DRAFT envelope or voids a SENT one (with reason). It
// reports whether the envelope was deleted, and the voided envelope if not.
func (s *Service) Delete(ctx context.Context, scope account.Scope, actor Actor, id, reason string, pre Precondition) (bool, *Envelope, error) {
	var env *Envelope
	deleted := false
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.get(ctx, scope, id, true); err != nil {
			return err
		}
		if pre != nil && !pre(env.Version) {
			return fmt.Errorf("envelope %s is at version %d: %w", id, env.Version, ErrVersionMismatch)
		}
		switch env.Status {
		case StatusDraft:
			deleted = true
			if err := s.DB.Conn(ctx).Where("envelope_id = ?", env.ID).Delete(&audit.Event{}).Error; err != nil {
				return fmt.Errorf("delete events of %s: %w", env.ID, err)
			}
			if err := s.deleteChildren(ctx, env.ID); err != nil {
				return err
			}
			return s.DB.Conn(ctx).Where("id = ?", env.ID).Delete(&Envelope{}).Error
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

// Void ends a SENT envelope.
func (s *Service) Void(ctx context.Context, scope account.Scope, actor Actor, id, reason string) (*Envelope, error) {
	var env *Envelope
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.get(ctx, scope, id, true); err != nil {
			return err
		}
		if env.Status != StatusSent {
			return stateErr("void", env.Status)
		}
		return s.void(ctx, env, actor, reason)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

func (s *Service) void(ctx context.Context, env *Envelope, actor Actor, reason string) error {
	reason = strings.TrimSpace(reason)
	if len(reason) > 1000 {
		return ValidationError{{Field: "reason", Reason: "must be at most 1000 characters"}}
	}
	now := s.now()
	env.Status = StatusVoided
	env.VoidReason = reason
	env.VoidedAt = &now
	if err := s.closeSessions(ctx, env, now); err != nil {
		return err
	}
	if err := s.finishState(ctx, env, "envelope.voided", actor, map[string]string{"reason": reason}); err != nil {
		return err
	}
	return s.notifyAll(ctx, env, notifyVoided)
}

// closeSessions expires every open session of an envelope that ended.
func (s *Service) closeSessions(ctx context.Context, env *Envelope, now time.Time) error {
	for i := range env.Sessions {
		ss := &env.Sessions[i]
		if !ss.Status.open() {
			continue
		}
		ss.Status, ss.FinishedAt = SessionExpired, &now
		if err := s.DB.Conn(ctx).Model(ss).Updates(map[string]any{"status": ss.Status, "finished_at": now}).Error; err != nil {
			return fmt.Errorf("close session %s: %w", ss.ID, err)
		}
	}
	return nil
}

// finishState saves a final state, records it and schedules the sealing of
// the audit trail.
func (s *Service) finishState(ctx context.Context, env *Envelope, event string, actor Actor, details map[string]string) error {
	env.Version++
	env.UpdatedAt = s.now()
	if err := s.save(ctx, env); err != nil {
		return err
	}
	if err := s.record(ctx, env, event, actor, "", details); err != nil {
		return err
	}
	return s.Outbox.Enqueue(ctx, jobs.Task{Type: TaskFinalize, Key: env.ID, Queue: jobs.QueueCritical,
		Payload: taskPayload{EnvelopeID: env.ID}, Timeout: 10 * time.Minute})
}

// --- send and remind -----------------------------------------------------

// Send moves a DRAFT envelope to SENT: it creates every recipient's signing
// session, opens the first routing group and queues its invitations.
func (s *Service) Send(ctx context.Context, scope account.Scope, actor Actor, id string) (*Envelope, error) {
	var env *Envelope
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.get(ctx, scope, id, true); err != nil {
			return err
		}
		if env.Status != StatusDraft {
			return stateErr("send", env.Status)
		}
		now := s.now()
		var verrs ValidationError
		if env.ExpiresAt != nil && !env.ExpiresAt.After(now) {
			verrs = append(verrs, FieldError{Field: "expiresAt", Reason: "has passed; PATCH a later expiresAt before sending"})
		}
		for _, d := range env.Documents {
			if info, err := s.lookupDocument(ctx, scope, d.DocumentID); err != nil {
				return err
			} else if !info.found {
				verrs = append(verrs, FieldError{Field: "documentIds", Reason: "document " + d.DocumentID + " no longer exists"})
			}
		}
		if len(verrs) > 0 {
			return verrs
		}
		env.Status = StatusSent
		env.SentAt = &now
		for i := range env.Recipients {
			r := &env.Recipients[i]
			ss := Session{ID: ident.New("ses"), EnvelopeID: env.ID, RecipientID: r.ID, Status: SessionCreated,
				CreatedAt: now, ExpiresAt: s.sessionExpiry(env, now)}
			ss.TokenHash = hashToken(s.token(&ss))
			if err := s.DB.Conn(ctx).Create(&ss).Error; err != nil {
				return fmt.Errorf("create session: %w", err)
			}
			env.Sessions = append(env.Sessions, ss)
		}
		if err := s.record(ctx, env, "envelope.sent", actor, "", nil); err != nil {
			return err
		}
		if err := s.advance(ctx, env, now); err != nil {
			return err
		}
		env.Version++
		env.UpdatedAt = now
		return s.save(ctx, env)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// sessionExpiry is when a session opened now stops working: its URL TTL,
// capped by the envelope's expiry.
func (s *Service) sessionExpiry(env *Envelope, now time.Time) time.Time {
	ttl := DefaultURLTTL
	if env.URLTTLSeconds > 0 {
		ttl = time.Duration(env.URLTTLSeconds) * time.Second
	}
	exp := now.Add(ttl)
	if env.ExpiresAt != nil && env.ExpiresAt.Before(exp) {
		exp = *env.ExpiresAt
	}
	return exp
}

// turnOrder is the routing order whose turn it is: the lowest order with an
// acting recipient whose signature is not yet applied; 0 when all are done.
func turnOrder(env *Envelope) int {
	turn := 0
	for _, r := range env.Recipients {
		if r.Role.Acts() && r.AppliedAt == nil && (turn == 0 || r.RoutingOrder < turn) {
			turn = r.RoutingOrder
		}
	}
	return turn
}

// hasTurn reports whether r may act now.
func hasTurn(env *Envelope, r *Recipient) bool {
	if env.SigningOrder != Sequential {
		return true
	}
	return env.CurrentOrder > 0 && r.RoutingOrder <= env.CurrentOrder
}

// advance opens the routing group whose turn it is: its pending signers,
// approvers and viewers get their invitation. Viewers never block.
func (s *Service) advance(ctx context.Context, env *Envelope, now time.Time) error {
	turn := turnOrder(env)
	env.CurrentOrder = turn
	for i := range env.Recipients {
		r := &env.Recipients[i]
		if r.Status != RecipientPending || r.Role == RoleCC {
			continue
		}
		if env.SigningOrder == Sequential && (turn == 0 || r.RoutingOrder > turn) {
			continue
		}
		ss := env.session(r.ID)
		if ss == nil {
			continue
		}
		r.Status = RecipientCreated
		ss.ExpiresAt = s.sessionExpiry(env, now)
		if err := s.DB.Conn(ctx).Model(r).Update("status", r.Status).Error; err != nil {
			return fmt.Errorf("open recipient %s: %w", r.ID, err)
		}
		if err := s.DB.Conn(ctx).Model(ss).Update("expires_at", ss.ExpiresAt).Error; err != nil {
			return fmt.Errorf("open session %s: %w", ss.ID, err)
		}
		if err := s.enqueueNotify(ctx, env, r.ID, notifyInvitation, 0); err != nil {
			return err
		}
	}
	return nil
}

// Remind re-sends invitations to every recipient whose turn has come and
// who has not finished, extending their links' lifetime.
func (s *Service) Remind(ctx context.Context, scope account.Scope, actor Actor, id string) (*Envelope, int, error) {
	var env *Envelope
	n := 0
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.get(ctx, scope, id, true); err != nil {
			return err
		}
		if env.Status != StatusSent {
			return stateErr("remind", env.Status)
		}
		n, err = s.remind(ctx, env, actor)
		return err
	})
	return env, n, err
}

func (s *Service) remind(ctx context.Context, env *Envelope, actor Actor) (int, error) {
	now := s.now()
	n := 0
	for i := range env.Recipients {
		r := &env.Recipients[i]
		ss := env.session(r.ID)
		if ss == nil || !r.Role.Acts() || r.Status == RecipientPending || r.SignedAt != nil || r.DeclinedAt != nil {
			continue
		}
		if ss.Status == SessionExpired || !now.Before(ss.ExpiresAt) {
			// A link that expired is not revived: the reminder carries a new
			// one, and the old token stays dead.
			if err := s.renewToken(ctx, env, ss, now); err != nil {
				return 0, err
			}
			if ss.Status == SessionExpired {
				ss.Status = SessionNotified
				r.Status = RecipientNotified
				if err := s.DB.Conn(ctx).Model(r).Update("status", r.Status).Error; err != nil {
					return 0, fmt.Errorf("reopen recipient %s: %w", r.ID, err)
				}
			}
		}
		ss.ExpiresAt = s.sessionExpiry(env, now)
		if err := s.DB.Conn(ctx).Model(ss).Updates(map[string]any{"status": ss.Status, "expires_at": ss.ExpiresAt}).Error; err != nil {
			return 0, fmt.Errorf("extend session %s: %w", ss.ID, err)
		}
		r.RemindersSent++
		if err := s.DB.Conn(ctx).Model(r).Update("reminders_sent", r.RemindersSent).Error; err != nil {
			return 0, fmt.Errorf("count reminder of %s: %w", r.ID, err)
		}
		if err := s.enqueueNotify(ctx, env, r.ID, notifyReminder, r.RemindersSent); err != nil {
			return 0, err
		}
		n++
	}
	env.LastReminderAt = &now
	env.UpdatedAt = now
	if err := s.save(ctx, env); err != nil {
		return 0, err
	}
	return n, s.record(ctx, env, "envelope.reminded", actor, "", map[string]string{"recipients": fmt.Sprint(n)})
}

// Events returns the envelope's event log.
func (s *Service) Events(ctx context.Context, scope account.Scope, id string) ([]audit.Event, error) {
	if _, err := s.get(ctx, scope, id, false); err != nil {
		return nil, err
	}
	return s.EventLog.List(ctx, id)
}

// --- events and tokens ---------------------------------------------------

// webhookTypes are the event types fanned out to webhooks.
var webhookTypes = []string{
	"envelope.created", "envelope.sent", "envelope.completed", "envelope.declined", "envelope.voided",
	"envelope.expired", "recipient.viewed", "recipient.signed", "recipient.declined",
}

// record appends an event with the documents' current hashes and, for the
// public types, publishes it to webhooks in the same transaction.
func (s *Service) record(ctx context.Context, env *Envelope, typ string, actor Actor, recipientID string, details map[string]string) error {
	hashes := make([]audit.DocumentHash, 0, len(env.Documents))
	for _, d := range env.Documents {
		hashes = append(hashes, audit.DocumentHash{DocumentID: d.DocumentID, SHA256: d.CurrentSHA256})
	}
	ev, err := s.EventLog.Append(ctx, audit.Event{
		EnvelopeID: env.ID, Type: typ, At: s.now(), Actor: actor.Name, RecipientID: recipientID,
		IP: actor.IP, UserAgent: actor.UserAgent, DocumentHashes: hashes, Details: details,
	})
	if err != nil {
		return err
	}
	if s.Publisher == nil || !slices.Contains(webhookTypes, typ) {
		return nil
	}
	err = s.Publisher.Publish(ctx, webhook.Event{
		ID: ev.ID, Type: typ, AccountID: env.AccountID, Environment: string(env.Environment),
		OccurredAt: ev.At, Data: s.eventView(env),
	})
	if err != nil {
		return fmt.Errorf("publish %s for %s: %w", typ, env.ID, err)
	}
	return nil
}

// token derives a session's signing token: HMAC-SHA256 under the token key
// of the session id and its generation, 256 bits, base64url. Only its
// SHA-256 is stored.
func (s *Service) token(ss *Session) string {
	m := hmac.New(sha256.New, s.TokenKey)
	m.Write([]byte("signing-token:" + ss.ID))
	if ss.TokenGeneration > 0 {
		m.Write([]byte(":" + strconv.Itoa(ss.TokenGeneration)))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// secretHash hashes a low-entropy secret (access code) under the token key,
// bound to its purpose and owner, so a database dump alone cannot be
// brute-forced.
func (s *Service) secretHash(purpose, owner, secret string) string {
	m := hmac.New(sha256.New, s.TokenKey)
	m.Write([]byte(purpose + ":" + owner + ":" + secret))
	return hex.EncodeToString(m.Sum(nil))
}

// SignURL is the link a recipient signs at.
func (s *Service) SignURL(ss *Session) string {
	return s.PublicURL + "/s/" + s.token(ss)
}
