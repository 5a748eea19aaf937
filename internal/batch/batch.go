// Package batch holds RemSig's signing batches: tasks (a PDF to sign with
// PAdES, data to sign as PKCS #7, data to sign raw as PKCS #1) to sign with
// one person's certificate, authorised by one entry of the certificate's
// PIN. A single signing request is a batch of one task. The worker signs
// each task with the key the PIN entry unlocks, decrypted only for that
// task.
package batch

import (
	"errors"
	"fmt"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
)

// State is a batch's state.
type State string

// Batch states, as RemSig names them: OPEN takes tasks; CLOSED takes no
// more; PROCESSING is signing after the PIN entry; then FINISHED (every
// task signed) or PARTIALLY_FINISHED (some failed).
const (
	StateOpen              State = "OPEN"
	StateClosed            State = "CLOSED"
	StateProcessing        State = "PROCESSING"
	StatePartiallyFinished State = "PARTIALLY_FINISHED"
	StateFinished          State = "FINISHED"
)

// TaskState is a task's state: NOT_READY until the PIN entry, UNSIGNED
// while it waits for the worker, then SIGNED or ERROR.
type TaskState string

// Task states.
const (
	TaskNotReady TaskState = "NOT_READY"
	TaskUnsigned TaskState = "UNSIGNED"
	TaskSigned   TaskState = "SIGNED"
	TaskError    TaskState = "ERROR"
)

// Kind is what a task makes.
type Kind string

// Task kinds.
const (
	KindPDF   Kind = "PDF"
	KindPKCS7 Kind = "PKCS7"
	KindPKCS1 Kind = "PKCS1"
)

// Limits.
const (
	// MaxTasks bounds a batch.
	MaxTasks = 10_000
	// MaxNameLen bounds a task's name and display name.
	MaxNameLen = 255
	// GrantLifetime is how long one PIN entry authorises a batch's signing.
	GrantLifetime = time.Hour
)

// Errors.
var (
	ErrNotFound        = errors.New("signing batch not found")
	ErrNotOpen         = errors.New("the signing batch is closed: no task can be added")
	ErrNotAuthorizable = errors.New("the signing batch cannot be authorised now")
	ErrEmpty           = errors.New("the signing batch has no task to sign")
	ErrTooManyTasks    = fmt.Errorf("a signing batch holds at most %d tasks", MaxTasks)
	ErrNotSigned       = errors.New("the signing batch has no signed task to download yet")
	ErrDataSource      = errors.New("the data source could not be read")
)

// Batch is a signing batch.
type Batch struct {
	Hash            string `gorm:"primaryKey"`
	AccountID       string
	Environment     account.Environment
	PersonID        string
	CertificateID   string
	State           State
	RedirectSuccess string
	RedirectCancel  string
	RedirectError   string
	TasksCount      int
	TasksSigned     int
	TasksFailed     int
	GrantSealed     []byte
	GrantExpiresAt  *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName maps Batch to its table.
func (Batch) TableName() string { return "signing_batches" }

// Scope is the account and environment the batch belongs to.
func (b *Batch) Scope() account.Scope {
	return account.Scope{AccountID: b.AccountID, Environment: b.Environment}
}

// PercentFinished is the share of signed tasks; an empty batch is done.
func (b *Batch) PercentFinished() float64 {
	if b.TasksCount == 0 {
		return 100
	}
	return float64(b.TasksSigned) * 100 / float64(b.TasksCount)
}

// Task is one thing to sign in a batch.
type Task struct {
	ID          string `gorm:"primaryKey"`
	BatchHash   string
	Seq         int
	Kind        Kind
	Name        string
	DisplayName string
	State       TaskState
	Options     string // JSON of Options
	InputKey    string
	InputSize   int64
	InputSHA256 string `gorm:"column:input_sha256"`
	OutputKey   string
	OutputSize  int64
	Error       string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName maps Task to its table.
func (Task) TableName() string { return "signing_tasks" }

// Redirects are where the PIN page sends the person afterwards.
type Redirects struct {
	Success, Cancel, Error string
}

// Options tune how a task is signed. Fields apply to the kinds named.
type Options struct {
	// PDF: the PAdES level (B, T, LT or LTA) and a visible signature.
	Level     string     `json:"level,omitempty"`
	Watermark *Watermark `json:"watermark,omitempty"`
	// PDF: the document's empty signature field to sign into (its
	// rectangle, page, seed values and lock), instead of a new field.
	Field string `json:"field,omitempty"`
	// PDF and PKCS7: the timestamp server.
	Timestamp *Timestamp `json:"timestamp,omitempty"`
	// PKCS7: attached content, PEM output, the digest algorithm and
	// whether the data's digest is what gets signed.
	NoDetach  bool   `json:"noDetach,omitempty"`
	PEM       bool   `json:"pem,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
	HashData  bool   `json:"hashData,omitempty"`
	// Source is where the data is fetched from when it was not sent.
	Source *Source `json:"source,omitempty"`
	// Sealed holds the credentials among these options (secretOptions)
	// sealed under the key-encryption key: never stored in the clear.
	Sealed []byte `json:"sealed,omitempty"`
}

// Watermark is a visible signature.
type Watermark struct {
	Text     string `json:"text,omitempty"`
	Position string `json:"position,omitempty"`
	Page     string `json:"page,omitempty"`
}

// Timestamp names the time-stamp authority of a signature: a configured
// server by name, or a URL with its own credentials.
type Timestamp struct {
	Name     string            `json:"name,omitempty"`
	URL      string            `json:"url,omitempty"`
	Timeout  time.Duration     `json:"timeout,omitempty"`
	Username string            `json:"username,omitempty"`
	Password string            `json:"password,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
}

// Source is a document fetched over HTTP from a registered data source.
type Source struct {
	URL      string            `json:"url"`
	Headers  map[string]string `json:"headers,omitempty"`
	Username string            `json:"username,omitempty"`
	Password string            `json:"password,omitempty"`
}
