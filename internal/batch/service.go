package batch

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/validation"
	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// TaskSign is the worker task that signs one task of a batch.
const TaskSign = "batch:sign"

// Fetcher reads a document from a registered data source; the HTTP client
// behind it checks addresses at dial time.
type Fetcher interface {
	Fetch(ctx context.Context, src Source, w io.Writer) error
	// Registered reports whether url is under a registered data source,
	// without a request.
	Registered(url string) bool
}

// Deps are what the service is built from.
type Deps struct {
	DB      *db.DB
	Blobs   blob.Store
	Outbox  *jobs.Outbox
	Persons *person.Service
	// Timestamper serves signatures at level T and above that name no
	// server; TSAs are the configured servers by name.
	Timestamper cms.Timestamper
	TSAs        []rfc3161.Server
	// Chain returns the issuers to embed with a signer's certificate.
	Chain func(*x509.Certificate) []*x509.Certificate
	// Revocation supplies validation data for LT and LTA.
	Revocation pades.RevocationFunc
	// Sources fetches data.http documents; nil refuses them.
	Sources Fetcher
	// RelayClient carries relayed timestamp queries to the configured
	// servers (default: a plain client; the per-server timeout applies).
	RelayClient *http.Client
	// TSAClient makes custom timestamp.url requests; nil refuses them.
	// It must be the outbound guard: the URL is the caller's.
	TSAClient rfc3161.Option
	Log       *slog.Logger
	Now       func() time.Time
}

// Service manages batches and signs their tasks.
type Service struct {
	Deps
}

// NewService returns the batch service.
func NewService(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Service{Deps: d}
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// newHash returns a batch's public name: 128 random bits in hex, so the
// PIN page's URL cannot be guessed.
func newHash() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// CreateInput is a new batch.
type CreateInput struct {
	PersonUniqueID   string
	CertificateIndex *int
	Redirects        Redirects
}

func checkRedirect(errs validation.Errors, field, v string) validation.Errors {
	if v == "" {
		return errs
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(v) > 2048 {
		return append(errs, validation.FieldError{Field: field, Reason: "must be an absolute http(s) URL of at most 2048 characters"})
	}
	return errs
}

// Create opens a batch for the person's certificate (the one at index, or
// the primary one).
func (s *Service) Create(ctx context.Context, scope account.Scope, in CreateInput) (*Batch, error) {
	b, err := s.newBatch(ctx, scope, in)
	if err != nil {
		return nil, err
	}
	if err := s.DB.Conn(ctx).Create(b).Error; err != nil {
		return nil, fmt.Errorf("create batch: %w", err)
	}
	return b, nil
}

func (s *Service) newBatch(ctx context.Context, scope account.Scope, in CreateInput) (*Batch, error) {
	var errs validation.Errors
	if in.PersonUniqueID == "" {
		errs = append(errs, validation.FieldError{Field: "personUniqueId", Reason: "required"})
	}
	if in.CertificateIndex != nil && *in.CertificateIndex < 0 {
		errs = append(errs, validation.FieldError{Field: "certificateIndex", Reason: "must not be negative"})
	}
	errs = checkRedirect(errs, "redirects.success", in.Redirects.Success)
	errs = checkRedirect(errs, "redirects.cancel", in.Redirects.Cancel)
	errs = checkRedirect(errs, "redirects.error", in.Redirects.Error)
	if len(errs) > 0 {
		return nil, errs
	}
	p, err := s.Persons.GetByUniqueID(ctx, scope, in.PersonUniqueID)
	if err != nil {
		return nil, err
	}
	c, err := s.Persons.CertificateForSigning(ctx, scope, p.ID, in.CertificateIndex)
	if err != nil {
		return nil, err
	}
	if st := c.Status(s.now()); st != person.StatusValid {
		return nil, fmt.Errorf("certificate %d: %w", c.Index, &person.UnusableError{Status: st})
	}
	if !c.HasKey() {
		return nil, fmt.Errorf("certificate %d: %w", c.Index, person.ErrNoKey)
	}
	hash, err := newHash()
	if err != nil {
		return nil, err
	}
	now := s.now()
	return &Batch{Hash: hash, AccountID: scope.AccountID, Environment: scope.Environment, PersonID: p.ID,
		CertificateID: c.ID, State: StateOpen, RedirectSuccess: in.Redirects.Success, RedirectCancel: in.Redirects.Cancel,
		RedirectError: in.Redirects.Error, CreatedAt: now, UpdatedAt: now}, nil
}

// TaskInput is a task to add. Data is the bytes to sign, or nil with
// Options.Source set.
type TaskInput struct {
	Kind        Kind
	Name        string
	DisplayName string
	Data        []byte
	Options     Options
	// FetchWhenSigning (data.http.prefetch false) leaves Options.Source
	// to be fetched by the worker when it signs, not now.
	FetchWhenSigning bool
	// Field prefixes field names in errors ("pdf[2].").
	Field string
}

func (s *Service) checkTask(in *TaskInput) validation.Errors {
	var errs validation.Errors
	f := in.Field
	if in.Name == "" {
		errs = append(errs, validation.FieldError{Field: f + "name", Reason: "required"})
	}
	for _, v := range []struct{ field, s string }{{"name", in.Name}, {"displayName", in.DisplayName}} {
		if !utf8.ValidString(v.s) || utf8.RuneCountInString(v.s) > MaxNameLen || bytes.ContainsAny([]byte(v.s), "\x00/\\") {
			errs = append(errs, validation.FieldError{Field: f + v.field,
				Reason: fmt.Sprintf("must be at most %d characters of text without slashes or NUL", MaxNameLen)})
		}
	}
	switch {
	case in.Data == nil && in.Options.Source == nil:
		errs = append(errs, validation.FieldError{Field: f + "data", Reason: "required: data.bytes (base64) or data.http"})
	case in.Data != nil && in.Options.Source != nil:
		errs = append(errs, validation.FieldError{Field: f + "data", Reason: "give data.bytes or data.http, not both"})
	}
	return append(errs, checkOptions(in.Kind, f, &in.Options)...)
}

// AddTasks adds tasks to an open batch; each task's data is stored (or
// fetched from its data source) before anything is recorded.
func (s *Service) AddTasks(ctx context.Context, scope account.Scope, hash string, tasks []TaskInput) (*Batch, error) {
	b, err := s.Get(ctx, scope, hash)
	if err != nil {
		return nil, err
	}
	if b.State != StateOpen {
		return nil, fmt.Errorf("batch %s is %s: %w", hash, b.State, ErrNotOpen)
	}
	return s.addTasks(ctx, b, tasks, false)
}

func (s *Service) addTasks(ctx context.Context, b *Batch, tasks []TaskInput, create bool) (*Batch, error) {
	var errs validation.Errors
	for i := range tasks {
		errs = append(errs, s.checkTask(&tasks[i])...)
	}
	if len(tasks) == 0 {
		errs = append(errs, validation.FieldError{Field: "tasks", Reason: "at least one task is required"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if b.TasksCount+len(tasks) > MaxTasks {
		return nil, ErrTooManyTasks
	}
	rows := make([]Task, 0, len(tasks))
	cleanup := func() {
		for _, r := range rows {
			_ = s.Blobs.Delete(context.WithoutCancel(ctx), r.InputKey)
		}
	}
	now := s.now()
	for i := range tasks {
		t, err := s.storeInput(ctx, b, &tasks[i], now)
		if err != nil {
			cleanup()
			return nil, err
		}
		rows = append(rows, *t)
	}
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		if create {
			if err := s.DB.Conn(ctx).Create(b).Error; err != nil {
				return fmt.Errorf("create batch: %w", err)
			}
		}
		var cur Batch
		if err := s.DB.ForUpdate(s.DB.Conn(ctx).Where("hash = ?", b.Hash), false).Take(&cur).Error; err != nil {
			return fmt.Errorf("batch %s: %w", b.Hash, ErrNotFound)
		}
		if cur.State != StateOpen {
			return fmt.Errorf("batch %s is %s: %w", b.Hash, cur.State, ErrNotOpen)
		}
		if cur.TasksCount+len(rows) > MaxTasks {
			return ErrTooManyTasks
		}
		for i := range rows {
			rows[i].Seq = cur.TasksCount + i
		}
		if err := s.DB.Conn(ctx).CreateInBatches(rows, 100).Error; err != nil {
			return fmt.Errorf("add tasks: %w", err)
		}
		*b = cur
		b.TasksCount += len(rows)
		b.UpdatedAt = now
		return s.DB.Conn(ctx).Model(&Batch{}).Where("hash = ?", b.Hash).
			Updates(map[string]any{"tasks_count": b.TasksCount, "updated_at": now}).Error
	})
	if err != nil {
		cleanup()
		return nil, err
	}
	return b, nil
}

// storeInput puts a task's data in blob storage, hashing it.
func (s *Service) storeInput(ctx context.Context, b *Batch, in *TaskInput, now time.Time) (*Task, error) {
	id := ident.New("task")
	t := &Task{ID: id, BatchHash: b.Hash, Kind: in.Kind, Name: in.Name, DisplayName: in.DisplayName,
		State: TaskNotReady, InputKey: "remsig/" + b.Hash + "/" + id + "/in", CreatedAt: now, UpdatedAt: now}
	h := sha256.New()
	var r io.Reader
	switch {
	case in.Data != nil:
		r = bytes.NewReader(in.Data)
	case s.Sources == nil:
		return nil, validation.Errors{{Field: in.Field + "data.http.url", Reason: "must be a registered data source url (this deployment registers none)"}}
	case in.FetchWhenSigning:
		// Fetched by the worker: checked now, no request made; its
		// credentials are kept sealed with the options until then.
		if !s.Sources.Registered(in.Options.Source.URL) {
			return nil, validation.Errors{{Field: in.Field + "data.http.url", Reason: "must be a registered data source url"}}
		}
		t.InputKey = ""
		var err error
		if t.Options, err = s.encodeOptions(t.ID, in.Options); err != nil {
			return nil, err
		}
		return t, nil
	default:
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(s.Sources.Fetch(ctx, *in.Options.Source, pw)) }()
		r = pr
		defer pr.Close()
	}
	var head bytes.Buffer
	obj, err := s.Blobs.Put(ctx, t.InputKey, io.TeeReader(io.TeeReader(r, h), &limitedBuffer{b: &head, n: pdfHeadLen}), "application/octet-stream")
	if err != nil {
		var fe validation.Errors
		if errors.As(err, &fe) {
			return nil, fe
		}
		if errors.Is(err, ErrDataSource) {
			return nil, err
		}
		return nil, fmt.Errorf("store task data: %w", err)
	}
	if in.Kind == KindPDF && in.Options.Field != "" && in.Data != nil {
		// Sent bytes are checked now; a fetched document when signed.
		info, err := pades.Inspect(bytes.NewReader(in.Data), int64(len(in.Data)))
		if err == nil {
			if fe := CheckField(info, in.Field, in.Options.Field); fe != nil {
				_ = s.Blobs.Delete(context.WithoutCancel(ctx), t.InputKey)
				return nil, fe
			}
		}
	}
	if in.Kind == KindPDF && !isPDFHead(head.Bytes()) {
		_ = s.Blobs.Delete(context.WithoutCancel(ctx), t.InputKey)
		field := in.Field + "data.bytes"
		if in.Data == nil {
			field = in.Field + "data.http.url"
		}
		return nil, validation.Errors{{Field: field, Reason: "must be a PDF document (no %PDF- header in its first 1024 bytes)"}}
	}
	in.Options.Source = nil // fetched: its credentials are not kept
	if t.Options, err = s.encodeOptions(t.ID, in.Options); err != nil {
		return nil, err
	}
	t.InputSize = obj.Size
	t.InputSHA256 = hex.EncodeToString(h.Sum(nil))
	return t, nil
}

// pdfHeadLen is how far into a file its %PDF- header may be, as readers
// tolerate leading junk.
const pdfHeadLen = 1024

// isPDFHead reports whether the first pdfHeadLen bytes of a file hold a
// PDF header.
func isPDFHead(head []byte) bool { return bytes.Contains(head, []byte("%PDF-")) }

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// SignOne creates a closed batch of one task: RemSig's single signing
// requests, whose result is fetched as the batch's.
func (s *Service) SignOne(ctx context.Context, scope account.Scope, in CreateInput, task TaskInput) (*Batch, error) {
	if errs := s.checkTask(&task); len(errs) > 0 {
		return nil, errs
	}
	b, err := s.newBatch(ctx, scope, in)
	if err != nil {
		return nil, err
	}
	if b, err = s.addTasks(ctx, b, []TaskInput{task}, true); err != nil {
		return nil, err
	}
	return s.Close(ctx, scope, b.Hash)
}

// Close stops a batch from taking tasks. Closing a closed batch changes
// nothing.
func (s *Service) Close(ctx context.Context, scope account.Scope, hash string) (*Batch, error) {
	var b *Batch
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if b, err = s.get(ctx, scope, hash, true); err != nil {
			return err
		}
		if b.State != StateOpen {
			return nil
		}
		b.State, b.UpdatedAt = StateClosed, s.now()
		return s.DB.Conn(ctx).Model(&Batch{}).Where("hash = ?", hash).
			Updates(map[string]any{"state": b.State, "updated_at": b.UpdatedAt}).Error
	})
	return b, err
}

func (s *Service) scoped(ctx context.Context, scope account.Scope) *gorm.DB {
	return s.DB.Conn(ctx).Model(&Batch{}).Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
}

// Get returns batch hash of scope; another scope's batch is ErrNotFound.
func (s *Service) Get(ctx context.Context, scope account.Scope, hash string) (*Batch, error) {
	return s.get(ctx, scope, hash, false)
}

func (s *Service) get(ctx context.Context, scope account.Scope, hash string, forUpdate bool) (*Batch, error) {
	var b Batch
	q := s.scoped(ctx, scope).Where("hash = ?", hash)
	if forUpdate {
		q = s.DB.ForUpdate(q, false)
	}
	if err := q.Take(&b).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("batch %s: %w", hash, ErrNotFound)
		}
		return nil, fmt.Errorf("get batch %s: %w", hash, err)
	}
	return &b, nil
}

var batchColumns = map[string]string{"creationDate": "created_at", "state": "state", "hash": "hash", "tasksCount": "tasks_count"}

// SortFields are the fields batches sort by.
var SortFields = []string{"creationDate", "state", "hash", "tasksCount"}

// List returns one page of scope's batches, newest first by default.
func (s *Service) List(ctx context.Context, scope account.Scope, q listing.Query) (listing.Page[Batch], error) {
	var page listing.Page[Batch]
	base := s.scoped(ctx, scope)
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count batches: %w", err)
	}
	order := q.OrderClause(batchColumns, listing.Order{Field: "creationDate"})
	// The tie-breaker is the hash, the batch's key.
	if o, ok := strings.CutSuffix(order, "id DESC"); ok {
		order = o + "hash DESC"
	} else {
		order = strings.TrimSuffix(order, "id") + "hash"
	}
	err := base.Session(&gorm.Session{}).Order(order).Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list batches: %w", err)
	}
	return page, nil
}

// Tasks returns the tasks of batch hash of scope, in order.
func (s *Service) Tasks(ctx context.Context, scope account.Scope, hash string) ([]Task, error) {
	if _, err := s.Get(ctx, scope, hash); err != nil {
		return nil, err
	}
	return s.tasks(ctx, hash)
}

func (s *Service) tasks(ctx context.Context, hash string) ([]Task, error) {
	var ts []Task
	if err := s.DB.Conn(ctx).Where("batch_hash = ?", hash).Order("seq").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("tasks of %s: %w", hash, err)
	}
	return ts, nil
}

// Delete removes a batch, its tasks and all their bytes.
func (s *Service) Delete(ctx context.Context, scope account.Scope, hash string) error {
	ts, err := s.Tasks(ctx, scope, hash)
	if err != nil {
		return err
	}
	if err := s.DB.Conn(ctx).Where("hash = ?", hash).Delete(&Batch{}).Error; err != nil {
		return fmt.Errorf("delete batch %s: %w", hash, err)
	}
	// Rows first: a task still queued finds nothing and ends. Bytes
	// after: a failed delete leaves only unreachable objects.
	for _, t := range ts {
		for _, k := range []string{t.InputKey, t.OutputKey} {
			if k == "" {
				continue
			}
			if err := s.Blobs.Delete(ctx, k); err != nil {
				s.Log.Warn("delete batch bytes", "batch", hash, "key", k, "err", err)
			}
		}
	}
	return nil
}

// FetchSource reads a document from a registered data source into memory
// (for validation, which needs it whole); field names the URL in errors.
func (s *Service) FetchSource(ctx context.Context, src *Source, field string) ([]byte, error) {
	if s.Sources == nil {
		return nil, validation.Errors{{Field: field, Reason: "must be a registered data source url (this deployment registers none)"}}
	}
	var buf limitedWriter
	buf.max = 64 << 20
	if err := s.Sources.Fetch(ctx, *src, &buf); err != nil {
		return nil, err
	}
	return buf.b.Bytes(), nil
}

// limitedWriter keeps at most max bytes and fails beyond.
type limitedWriter struct {
	b   bytes.Buffer
	max int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.b.Len()+len(p) > l.max {
		return 0, fmt.Errorf("%w: the document is over %d MiB", ErrDataSource, l.max>>20)
	}
	return l.b.Write(p)
}
