// Package document holds uploaded PDFs: their metadata in the database,
// their bytes in blob storage, and the pre-validation report (RemSig's codes)
// that says whether they can be signed. Every query is scoped by account and
// environment.
package document

import (
	"context"
	"errors"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/validation"
)

// Errors. The HTTP layer maps each to a status in one place.
var (
	ErrNotFound = errors.New("document not found")
	// ErrNotPDF means the upload is not a readable PDF; nothing was stored.
	ErrNotPDF = errors.New("not a PDF document")
	// ErrTooLarge means the upload exceeds the configured size limit.
	ErrTooLarge = errors.New("document too large")
	// ErrInUse means a non-final envelope uses the document.
	ErrInUse = errors.New("document is used by an envelope that is not final")
	// ErrVersionMismatch means an If-Match precondition failed.
	ErrVersionMismatch = errors.New("document has changed")
	// ErrInvalid wraps field validation failures (see FieldErrors).
	ErrInvalid = validation.ErrInvalid
)

// Metadata limits (as Signicat).
const (
	MaxFilenameLen    = 255
	MaxTitleLen       = 255
	MaxDescriptionLen = 1000
)

// MimeType is the only type Vellum stores.
const MimeType = "application/pdf"

// Document is an uploaded PDF's record.
type Document struct {
	ID          string `gorm:"primaryKey"`
	AccountID   string
	Environment account.Environment
	Filename    string
	Title       string
	Description string
	MimeType    string
	Size        int64
	SHA256      string `gorm:"column:sha256"`
	Pages       int
	Signable    bool
	Validation  Validation `gorm:"serializer:json"`
	BlobKey     string
	// PageBoxes and SignatureFields are read at upload; empty for a file
	// the signing engine could not read, and for documents uploaded
	// before they were recorded.
	PageBoxes       []PageBox        `gorm:"serializer:json"`
	SignatureFields []SignatureField `gorm:"serializer:json"`
	// Version increases with every change; it is the ETag.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName maps Document to its table.
func (Document) TableName() string { return "documents" }

// Meta is the descriptive metadata a client sets at upload.
type Meta struct {
	Filename    string
	Title       string
	Description string
}

// Patch changes metadata; nil fields are left alone.
type Patch struct {
	Filename    *string
	Title       *string
	Description *string
}

// FieldError names one invalid field and why.
type FieldError = validation.FieldError

// FieldErrors lists every invalid field of a request at once.
type FieldErrors = validation.Errors

// UsageChecker says whether a document is used by an envelope that is not in
// a final state; envelope.DocumentUsage implements it.
type UsageChecker interface {
	DocumentInUse(ctx context.Context, scope account.Scope, documentID string) (bool, error)
}
