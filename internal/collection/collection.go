// Package collection holds document collections (Signicat's): an ordered
// group of one account's stored documents that are signed together, with
// the package types to build from the signed documents once every signing
// session of the collection is signed. The documents themselves stay in
// the document service; a collection only names them.
package collection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/validation"
)

// ErrNotFound means no such collection in the caller's scope.
var ErrNotFound = errors.New("document collection not found")

// Limits, as Signicat's.
const (
	MaxDocuments = 100
	MaxPackages  = 5
)

// PackageType is a format a collection is packaged to.
type PackageType string

// PadesContainer is a PDF carrying the signed documents unchanged as
// embedded files, with a cover page, sealed by the platform.
const PadesContainer PackageType = "PADES_CONTAINER"

// PackageTypes are the known package types.
var PackageTypes = []PackageType{PadesContainer}

// Collection is a document collection.
type Collection struct {
	ID          string `gorm:"primaryKey"`
	AccountID   string
	Environment account.Environment
	// PackageTo is comma-separated in the table; see Packages.
	PackageTo string
	CreatedAt time.Time
	// DocumentIDs are the documents in order (from the member table).
	DocumentIDs []string `gorm:"-"`
}

// TableName maps Collection to its table.
func (Collection) TableName() string { return "document_collections" }

// Packages returns the package types the collection is packaged to.
func (c *Collection) Packages() []PackageType {
	var out []PackageType
	for _, p := range strings.Split(c.PackageTo, ",") {
		if p != "" {
			out = append(out, PackageType(p))
		}
	}
	return out
}

type member struct {
	CollectionID string `gorm:"primaryKey"`
	Position     int    `gorm:"primaryKey"`
	DocumentID   string
}

func (member) TableName() string { return "document_collection_documents" }

// Service manages collections.
type Service struct {
	db   *db.DB
	docs *document.Service
}

// NewService returns the collection service.
func NewService(database *db.DB, docs *document.Service) *Service {
	return &Service{db: database, docs: docs}
}

// Create makes a collection of documentIDs (1–MaxDocuments, each a
// document of scope, none twice) packaged to packageTo. Every bad input
// comes back at once as validation errors named by JSON path.
func (s *Service) Create(ctx context.Context, scope account.Scope, documentIDs []string, packageTo []PackageType) (*Collection, error) {
	var errs validation.Errors
	switch n := len(documentIDs); {
	case n == 0:
		errs = append(errs, validation.FieldError{Field: "documents", Reason: "must list at least one document"})
	case n > MaxDocuments:
		// Checking each of a thousand entries would only repeat this.
		return nil, validation.Errors{{Field: "documents", Reason: fmt.Sprintf("must list at most %d documents", MaxDocuments)}}
	}
	seen := map[string]int{}
	for i, id := range documentIDs {
		field := fmt.Sprintf("documents[%d].documentId", i)
		if j, dup := seen[id]; dup {
			errs = append(errs, validation.FieldError{Field: field, Reason: fmt.Sprintf("the same document as documents[%d]", j)})
			continue
		}
		seen[id] = i
		if _, err := s.docs.Get(ctx, scope, id); errors.Is(err, document.ErrNotFound) {
			errs = append(errs, validation.FieldError{Field: field, Reason: "no such document"})
		} else if err != nil {
			return nil, err
		}
	}
	if len(packageTo) > MaxPackages {
		errs = append(errs, validation.FieldError{Field: "packageTo", Reason: fmt.Sprintf("must list at most %d package types", MaxPackages)})
	}
	var pkgs []string
	for i, p := range packageTo {
		if !slices.Contains(PackageTypes, p) {
			errs = append(errs, validation.FieldError{Field: fmt.Sprintf("packageTo[%d]", i), Reason: "must be PADES_CONTAINER"})
		} else if !slices.Contains(pkgs, string(p)) {
			pkgs = append(pkgs, string(p))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c := &Collection{ID: ident.New("dcl"), AccountID: scope.AccountID, Environment: scope.Environment,
		PackageTo: strings.Join(pkgs, ","), CreatedAt: time.Now().UTC(), DocumentIDs: documentIDs}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(c).Error; err != nil {
			return fmt.Errorf("create collection: %w", err)
		}
		rows := make([]member, len(documentIDs))
		for i, id := range documentIDs {
			rows[i] = member{CollectionID: c.ID, Position: i, DocumentID: id}
		}
		if err := s.db.Conn(ctx).Create(&rows).Error; err != nil {
			return fmt.Errorf("record collection documents: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns the collection id of scope with its documents.
func (s *Service) Get(ctx context.Context, scope account.Scope, id string) (*Collection, error) {
	var c Collection
	err := s.db.Conn(ctx).Where("id = ? AND account_id = ? AND environment = ?", id, scope.AccountID, scope.Environment).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("collection %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get collection %s: %w", id, err)
	}
	var rows []member
	if err := s.db.Conn(ctx).Where("collection_id = ?", id).Order("position").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("get collection %s documents: %w", id, err)
	}
	for _, r := range rows {
		c.DocumentIDs = append(c.DocumentIDs, r.DocumentID)
	}
	return &c, nil
}

// Delete removes the collection id of scope (its documents stay).
func (s *Service) Delete(ctx context.Context, scope account.Scope, id string) error {
	res := s.db.Conn(ctx).Where("id = ? AND account_id = ? AND environment = ?", id, scope.AccountID, scope.Environment).Delete(&Collection{})
	if res.Error != nil {
		return fmt.Errorf("delete collection %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("collection %s: %w", id, ErrNotFound)
	}
	return nil
}
