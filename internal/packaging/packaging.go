// Package packaging builds packages of signed documents: a PADES_CONTAINER
// is one PDF that carries the signed documents unchanged as embedded files
// (PDF/A-3 associated files, /EmbeddedFiles and /AF) behind a readable
// cover listing each document, its SHA-256 and its signatures (signer and
// time), sealed PAdES B-LTA with the platform seal. A package is requested
// with Request (in the caller's transaction, with its outbox task) and
// built by the worker's "package:build" task, idempotently: a built
// package is never built again, and a run that loses a race discards its
// result.
package packaging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/pdfreport"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/seal"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// TaskBuild builds one package.
const TaskBuild = "package:build"

// PadesContainer is the package type of a sealed PDF container.
const PadesContainer = "PADES_CONTAINER"

// Statuses of a package.
const (
	StatusPending = "PENDING"
	StatusReady   = "READY"
	StatusFailed  = "FAILED"
)

// Package is a requested or built package.
type Package struct {
	OwnerID     string `gorm:"primaryKey"`
	PackageType string `gorm:"primaryKey"`
	AccountID   string
	Environment account.Environment
	Title       string
	// DocumentIDs are the signed documents to carry, comma-separated.
	DocumentIDs string
	Status      string
	// DocumentID is the built package (a stored document) when READY.
	DocumentID string
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TableName maps Package to its table.
func (Package) TableName() string { return "packages" }

// Service requests and builds packages.
type Service struct {
	DB     *db.DB
	Outbox *jobs.Outbox
	Docs   *document.Service
	Sealer seal.Sealer
	// Seal is the platform seal the container is sealed with.
	Seal func() pki.Credential
	Now  func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Request asks for a package of type packageType of the signed documents
// documentIDs (stored documents of scope), owned by ownerID (a collection
// or a signing session). It joins the caller's transaction (db.WithTx), so
// call it in the one that records that the owner is signed. Asking again
// for the same owner and type changes nothing.
func (s *Service) Request(ctx context.Context, scope account.Scope, ownerID, packageType, title string, documentIDs []string) error {
	if packageType != PadesContainer {
		return fmt.Errorf("package type %q: only %s is built", packageType, PadesContainer)
	}
	if len(documentIDs) == 0 {
		return errors.New("a package needs at least one document")
	}
	now := s.now()
	p := &Package{OwnerID: ownerID, PackageType: packageType, AccountID: scope.AccountID, Environment: scope.Environment,
		Title: title, DocumentIDs: strings.Join(documentIDs, ","), Status: StatusPending, CreatedAt: now, UpdatedAt: now}
	return s.DB.WithTx(ctx, func(ctx context.Context) error {
		res := s.DB.Conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(p)
		if res.Error != nil {
			return fmt.Errorf("request package: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		return s.Outbox.Enqueue(ctx, jobs.Task{Type: TaskBuild, Key: ownerID + ":" + packageType, Queue: jobs.QueueLow,
			Payload: buildPayload{OwnerID: ownerID, PackageType: packageType}, MaxRetry: 10, Timeout: 10 * time.Minute})
	})
}

// List returns the packages of owner, in creation order.
func (s *Service) List(ctx context.Context, scope account.Scope, ownerID string) ([]Package, error) {
	var out []Package
	err := s.DB.Conn(ctx).Where("owner_id = ? AND account_id = ? AND environment = ?", ownerID, scope.AccountID, scope.Environment).
		Order("created_at, package_type").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list packages of %s: %w", ownerID, err)
	}
	return out, nil
}

type buildPayload struct {
	OwnerID     string `json:"ownerId"`
	PackageType string `json:"packageType"`
}

// RegisterTasks wires the build task into a worker.
func (s *Service) RegisterTasks(w *jobs.Worker) {
	w.Handle(TaskBuild, func(ctx context.Context, d jobs.Delivery) error {
		var p buildPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return fmt.Errorf("%s payload: %w", TaskBuild, err)
		}
		return s.Build(ctx, p.OwnerID, p.PackageType, func(ctx context.Context, fn func(ctx context.Context) error) error {
			return jobs.Complete(ctx, s.DB, fn)
		})
	})
}

// CommitFunc commits a build's result exactly once (jobs.Complete in the
// worker; a plain transaction in tests and tools).
type CommitFunc func(ctx context.Context, fn func(ctx context.Context) error) error

// Build builds the package of owner and type unless it is built already,
// stores it as a document of the owner's scope and marks it READY through
// commit. A result that loses the race to another run is deleted.
func (s *Service) Build(ctx context.Context, ownerID, packageType string, commit CommitFunc) error {
	var p Package
	err := s.DB.Conn(ctx).Where("owner_id = ? AND package_type = ?", ownerID, packageType).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil // the owner was deleted since; nothing to build
	}
	if err != nil {
		return fmt.Errorf("load package %s/%s: %w", ownerID, packageType, err)
	}
	if p.Status != StatusPending {
		return nil
	}
	scope := account.Scope{AccountID: p.AccountID, Environment: p.Environment}
	built, err := s.BuildContainer(ctx, scope, p.Title, strings.Split(p.DocumentIDs, ","))
	if err != nil {
		return fmt.Errorf("build package %s/%s: %w", ownerID, packageType, err)
	}
	err = commit(ctx, func(ctx context.Context) error {
		res := s.DB.Conn(ctx).Model(&Package{}).
			Where("owner_id = ? AND package_type = ? AND status = ?", ownerID, packageType, StatusPending).
			Updates(map[string]any{"status": StatusReady, "document_id": built.ID, "updated_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("record package %s/%s: %w", ownerID, packageType, res.Error)
		}
		if res.RowsAffected == 0 {
			return errAlreadyBuilt
		}
		return nil
	})
	if err != nil {
		_ = s.Docs.Delete(context.WithoutCancel(ctx), scope, built.ID, nil)
		if errors.Is(err, errAlreadyBuilt) || errors.Is(err, jobs.ErrAlreadyDone) {
			return nil
		}
		return err
	}
	return nil
}

var errAlreadyBuilt = errors.New("package already built")

// BuildContainer builds a PADES_CONTAINER of the documents ids of scope
// and stores it as a new document of scope: a cover page, each document
// embedded unchanged, the platform seal at the end.
func (s *Service) BuildContainer(ctx context.Context, scope account.Scope, title string, ids []string) (*document.Document, error) {
	if title == "" {
		title = "Signed documents"
	}
	rep := pdfreport.New(title)
	rep.Title(title)
	rep.Para(fmt.Sprintf("This PDF carries %d signed document(s) unchanged as embedded files (open the attachments panel). "+
		"It is sealed by the platform; each embedded document keeps its own signatures.", len(ids)))
	rep.KV("Packaged at", s.now().Format(time.RFC3339))
	rep.Space(8)
	for i, id := range ids {
		d, rc, err := s.Docs.Open(ctx, scope, id)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read document %s: %w", id, err)
		}
		sum := sha256.Sum256(data)
		rep.Rule()
		rep.Heading(fmt.Sprintf("%d. %s", i+1, d.Filename))
		if d.Title != "" {
			rep.KV("Title", d.Title)
		}
		rep.KV("Size", fmt.Sprintf("%d bytes", len(data)))
		rep.KVMono("SHA-256", hex.EncodeToString(sum[:]))
		if report, err := pades.Verify(bytes.NewReader(data), int64(len(data)), pades.VerifyOptions{}); err == nil {
			for _, sig := range report.Signatures {
				when := sig.SigningTime
				if !sig.TimestampTime.IsZero() {
					when = sig.TimestampTime
				}
				who := sig.Name
				if sig.Signer != nil && sig.Signer.Name != "" {
					who = sig.Signer.Name
				}
				if sig.DocumentTimestamp {
					rep.KV("Document timestamp", when.UTC().Format(time.RFC3339))
					continue
				}
				rep.KV("Signed by", fmt.Sprintf("%s, %s", who, when.UTC().Format(time.RFC3339)))
			}
		} else {
			rep.KV("Signatures", "could not be read: "+err.Error())
		}
		rep.Attach(attachmentName(i, d.Filename), document.MimeType, d.Title, data, d.CreatedAt)
	}
	raw, err := rep.Bytes()
	if err != nil {
		return nil, fmt.Errorf("render container: %w", err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(s.Sealer.Seal(ctx, bytes.NewReader(raw), int64(len(raw)), pw, s.Seal(), "Package sealed by the platform", "PlatformSeal"))
	}()
	up, err := s.Docs.Receive(ctx, pr)
	pr.CloseWithError(err)
	<-done
	if err != nil {
		return nil, fmt.Errorf("seal container: %w", err)
	}
	defer up.Close()
	return s.Docs.Create(ctx, scope, up, document.Meta{Filename: "pades-container.pdf", Title: title})
}

// attachmentName is the embedded file's name: the document's filename,
// numbered so two documents of the same name stay apart.
func attachmentName(i int, filename string) string {
	return fmt.Sprintf("%02d-%s", i+1, filename)
}
