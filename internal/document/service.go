package document

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/validation"
	"github.com/vellum-sign/vellum/internal/webhook"
)

// DefaultMaxSize is the upload limit unless configured otherwise (50 MB).
const DefaultMaxSize = 50 << 20

// Config tunes the service.
type Config struct {
	// MaxSize is the largest document accepted, in bytes.
	MaxSize int64
	// TempDir is where uploads are spooled while they are checked; empty
	// means the system default.
	TempDir string
	// Log receives cleanup failures that cannot reach a client.
	Log *slog.Logger
	// Publisher, when set, receives document.uploaded and document.deleted
	// inside the transaction that records the change, so a change and its
	// webhooks commit together.
	Publisher Publisher
}

// Publisher fans events out to webhooks inside the caller's transaction.
type Publisher interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// Service manages documents.
type Service struct {
	db    *db.DB
	blobs blob.Store
	usage UsageChecker
	cfg   Config
}

// NewService returns the document service. usage answers whether
// envelopes still use a document (envelope.NewDocumentUsage), so that no
// deletion happens without asking.
func NewService(database *db.DB, blobs blob.Store, usage UsageChecker, cfg Config) *Service {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Service{db: database, blobs: blobs, usage: usage, cfg: cfg}
}

// publish hands the document's event to the publisher, if any, within the
// caller's transaction.
func (s *Service) publish(ctx context.Context, typ string, d *Document) error {
	if s.cfg.Publisher == nil {
		return nil
	}
	err := s.cfg.Publisher.Publish(ctx, webhook.Event{
		ID: ident.New("evt"), Type: typ, AccountID: d.AccountID, Environment: string(d.Environment),
		OccurredAt: d.UpdatedAt, Data: d.View(),
	})
	if err != nil {
		return fmt.Errorf("publish %s for %s: %w", typ, d.ID, err)
	}
	return nil
}

// MaxSize is the configured upload limit.
func (s *Service) MaxSize() int64 { return s.cfg.MaxSize }

// Upload is a received file spooled to a temporary file, with its size and
// SHA-256 computed on the way in. Close removes the file.
type Upload struct {
	file   *os.File
	Size   int64
	SHA256 string
}

// Close removes the spooled file.
func (u *Upload) Close() error {
	if u == nil || u.file == nil {
		return nil
	}
	name := u.file.Name()
	err := u.file.Close()
	if rerr := os.Remove(name); rerr != nil && err == nil {
		err = rerr
	}
	u.file = nil
	return err
}

// Receive streams r to a temporary file while hashing it, refusing more than
// MaxSize bytes with ErrTooLarge. The bytes are never held whole in memory.
func (s *Service) Receive(ctx context.Context, r io.Reader) (*Upload, error) {
	f, err := os.CreateTemp(s.cfg.TempDir, "vellum-upload-*.pdf")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	u := &Upload{file: f}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx, r}, s.cfg.MaxSize+1))
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("receive upload: %w", err)
	}
	if n > s.cfg.MaxSize {
		u.Close()
		return nil, fmt.Errorf("%w: larger than the limit of %d bytes", ErrTooLarge, s.cfg.MaxSize)
	}
	u.Size = n
	u.SHA256 = hex.EncodeToString(h.Sum(nil))
	return u, nil
}

// CheckMeta validates upload metadata, listing every bad field.
func CheckMeta(m Meta) error {
	var errs FieldErrors
	errs = checkText(errs, "filename", m.Filename, MaxFilenameLen, validation.Filename)
	errs = checkText(errs, "title", m.Title, MaxTitleLen, validation.Line)
	errs = checkText(errs, "description", m.Description, MaxDescriptionLen, validation.Multiline)
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// CheckPatch validates a metadata change, listing every bad field.
func CheckPatch(p Patch) error {
	var errs FieldErrors
	if p.Filename != nil {
		if CleanFilename(*p.Filename) == "" {
			errs = append(errs, FieldError{Field: "filename", Reason: "must not be empty"})
		} else {
			errs = checkText(errs, "filename", CleanFilename(*p.Filename), MaxFilenameLen, validation.Filename)
		}
	}
	if p.Title != nil {
		errs = checkText(errs, "title", *p.Title, MaxTitleLen, validation.Line)
	}
	if p.Description != nil {
		errs = checkText(errs, "description", *p.Description, MaxDescriptionLen, validation.Multiline)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func checkText(errs FieldErrors, field, v string, max int, kind validation.TextKind) FieldErrors {
	if reason := validation.CheckText(v, kind); reason != "" {
		return append(errs, FieldError{Field: field, Reason: reason})
	}
	if utf8.RuneCountInString(v) > max {
		return append(errs, FieldError{Field: field, Reason: fmt.Sprintf("must be at most %d characters", max)})
	}
	return errs
}

// CleanFilename reduces a client-supplied name (which may be a path such as
// C:\fakepath\a.pdf) to its last element.
func CleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSpace(name)
}

// Create validates the spooled upload, stores its bytes and records the
// document. A file that is not a PDF is refused with ErrNotPDF and nothing is
// stored; an encrypted or locked PDF is stored with signable false.
func (s *Service) Create(ctx context.Context, scope account.Scope, up *Upload, m Meta) (*Document, error) {
	m.Filename = CleanFilename(m.Filename)
	if m.Filename == "" {
		m.Filename = "document.pdf"
	}
	if err := CheckMeta(m); err != nil {
		return nil, err
	}
	if _, err := up.file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind upload: %w", err)
	}
	rep, err := Validate(ctx, up.file)
	if err != nil {
		return nil, err
	}
	boxes, fields, damaged := readGeometry(up.file, up.Size)
	rep = damageFindings(rep, boxes, fields, damaged)
	now := time.Now().UTC()
	d := &Document{
		PageBoxes: boxes, SignatureFields: fields,
		ID: ident.New("doc"), AccountID: scope.AccountID, Environment: scope.Environment,
		Filename: m.Filename, Title: m.Title, Description: m.Description, MimeType: MimeType,
		Size: up.Size, SHA256: up.SHA256, Pages: rep.Pages, Signable: rep.Validation.Signable,
		Validation: rep.Validation, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	d.BlobKey = "documents/" + d.ID + ".pdf"
	if _, err := up.file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind upload: %w", err)
	}
	if _, err := s.blobs.Put(ctx, d.BlobKey, up.file, MimeType); err != nil {
		return nil, fmt.Errorf("store document bytes: %w", err)
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(d).Error; err != nil {
			return fmt.Errorf("record document: %w", err)
		}
		return s.publish(ctx, webhook.EventDocumentUploaded, d)
	})
	if err != nil {
		s.deleteBlob(context.WithoutCancel(ctx), d.BlobKey)
		return nil, err
	}
	return d, nil
}

func (s *Service) scoped(ctx context.Context, scope account.Scope) *gorm.DB {
	return s.db.Conn(ctx).Model(&Document{}).
		Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
}

// Get returns the document id of scope; another scope's document is
// ErrNotFound, exactly as a missing one.
func (s *Service) Get(ctx context.Context, scope account.Scope, id string) (*Document, error) {
	return s.get(ctx, scope, id, false)
}

func (s *Service) get(ctx context.Context, scope account.Scope, id string, forUpdate bool) (*Document, error) {
	var d Document
	q := s.scoped(ctx, scope).Where("id = ?", id)
	if forUpdate {
		q = s.db.ForUpdate(q, false)
	}
	if err := q.Take(&d).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("document %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get document %s: %w", id, err)
	}
	return &d, nil
}

// Filter narrows a document list.
type Filter struct {
	Signable *bool
}

var documentColumns = map[string]string{
	"createdAt": "created_at", "updatedAt": "updated_at", "filename": "filename",
	"title": "title", "size": "size", "pages": "pages",
}

// SortFields are the fields documents can be sorted by.
var SortFields = []string{"createdAt", "updatedAt", "filename", "title", "size", "pages"}

// List returns one page of scope's documents.
func (s *Service) List(ctx context.Context, scope account.Scope, q listing.Query, f Filter) (listing.Page[Document], error) {
	base := s.scoped(ctx, scope)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	if f.Signable != nil {
		base = base.Where("signable = ?", *f.Signable)
	}
	var page listing.Page[Document]
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count documents: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(documentColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list documents: %w", err)
	}
	return page, nil
}

// Open returns the document and a stream of its bytes; the caller closes it.
func (s *Service) Open(ctx context.Context, scope account.Scope, id string) (*Document, io.ReadCloser, error) {
	d, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, nil, err
	}
	rc, _, err := s.blobs.Get(ctx, d.BlobKey)
	if err != nil {
		return nil, nil, fmt.Errorf("open document %s bytes: %w", id, err)
	}
	return d, rc, nil
}

// Precondition accepts or refuses the document's current version (an
// If-Match header); nil accepts any.
type Precondition func(version int) bool

// Update applies p. When match refuses the current version the update fails
// with ErrVersionMismatch.
func (s *Service) Update(ctx context.Context, scope account.Scope, id string, p Patch, match Precondition) (*Document, error) {
	var d *Document
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if d, err = s.get(ctx, scope, id, true); err != nil {
			return err
		}
		if match != nil && !match(d.Version) {
			return fmt.Errorf("document %s is at version %d: %w", id, d.Version, ErrVersionMismatch)
		}
		next := Meta{Filename: d.Filename, Title: d.Title, Description: d.Description}
		if p.Filename != nil {
			next.Filename = CleanFilename(*p.Filename)
		}
		if p.Title != nil {
			next.Title = *p.Title
		}
		if p.Description != nil {
			next.Description = *p.Description
		}
		if err := CheckPatch(p); err != nil {
			return err
		}
		d.Filename, d.Title, d.Description = next.Filename, next.Title, next.Description
		d.Version++
		d.UpdatedAt = time.Now().UTC()
		return s.db.Conn(ctx).Model(&Document{}).Where("id = ?", d.ID).Updates(map[string]any{
			"filename": d.Filename, "title": d.Title, "description": d.Description,
			"version": d.Version, "updated_at": d.UpdatedAt,
		}).Error
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Delete removes the document's record and then its bytes. match works as
// in Update. A document used by a non-final envelope is ErrInUse.
func (s *Service) Delete(ctx context.Context, scope account.Scope, id string, match Precondition) error {
	var key string
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		d, err := s.get(ctx, scope, id, true)
		if err != nil {
			return err
		}
		if match != nil && !match(d.Version) {
			return fmt.Errorf("document %s is at version %d: %w", id, d.Version, ErrVersionMismatch)
		}
		inUse, err := s.usage.DocumentInUse(ctx, scope, id)
		if err != nil {
			return fmt.Errorf("check document %s usage: %w", id, err)
		}
		if inUse {
			return fmt.Errorf("document %s: %w", id, ErrInUse)
		}
		key = d.BlobKey
		if err := s.db.Conn(ctx).Where("id = ?", d.ID).Delete(&Document{}).Error; err != nil {
			return fmt.Errorf("delete document %s: %w", id, err)
		}
		return s.publish(ctx, webhook.EventDocumentDeleted, d)
	})
	if err != nil {
		return err
	}
	// The record is gone, so nobody can reach the bytes any more; a failed
	// delete leaves an orphan object, logged for the operator.
	s.deleteBlob(context.WithoutCancel(ctx), key)
	return nil
}

func (s *Service) deleteBlob(ctx context.Context, key string) {
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.cfg.Log.Error("delete document bytes", "key", key, "err", err)
	}
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
