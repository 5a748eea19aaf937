// Package webhook delivers Vellum's events to the HTTP endpoints integrators
// register, following the Standard Webhooks specification: each message is
// signed (webhook-id, webhook-timestamp, webhook-signature), retried on a
// fixed backoff schedule, logged attempt by attempt, and replayable.
//
// Publish writes one delivery row per matching endpoint, and one outbox task
// per endpoint and transaction, in the caller's transaction, so a state
// change and its webhooks commit together. The Deliverer is the task
// handler that makes the HTTP attempts, first attempts in per-endpoint
// batches (batch.go), through an SSRF guard that checks the address
// actually dialled.
package webhook

import (
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/validation"
)

// Event is something that happened, fanned out to every matching endpoint.
type Event struct {
	ID          string    // unique, e.g. ident.New("evt"); it becomes webhook-id
	Type        string    // "envelope.completed"
	AccountID   string    // the account whose endpoints receive it
	Environment string    // "test" | "live"
	OccurredAt  time.Time // becomes the payload's timestamp
	Data        any       // the object's public JSON as the API returns it
}

// Event types. Endpoints subscribe to a list of them or to all ("*").
const (
	EventEnvelopeCreated   = "envelope.created"
	EventEnvelopeSent      = "envelope.sent"
	EventEnvelopeCompleted = "envelope.completed"
	EventEnvelopeDeclined  = "envelope.declined"
	EventEnvelopeVoided    = "envelope.voided"
	EventEnvelopeExpired   = "envelope.expired"
	EventRecipientViewed   = "recipient.viewed"
	EventRecipientSigned   = "recipient.signed"
	EventRecipientDeclined = "recipient.declined"
	EventDocumentUploaded  = "document.uploaded"
	EventDocumentDeleted   = "document.deleted"
	// EventTest is sent only by SendTest, to one endpoint, whatever it
	// subscribes to.
	EventTest = "webhook.test"
)

// AllEvents subscribes an endpoint to every event type, present and future.
const AllEvents = "*"

// EventTypes lists the types an endpoint can subscribe to.
var EventTypes = []string{
	EventEnvelopeCreated, EventEnvelopeSent, EventEnvelopeCompleted, EventEnvelopeDeclined,
	EventEnvelopeVoided, EventEnvelopeExpired, EventRecipientViewed, EventRecipientSigned,
	EventRecipientDeclined, EventDocumentUploaded, EventDocumentDeleted,
}

// KnownEventType reports whether t is a subscribable event type.
func KnownEventType(t string) bool { return slices.Contains(EventTypes, t) }

// Errors. The HTTP layer maps each to a status in one place.
var (
	ErrNotFound = errors.New("not found")
	// ErrInvalid wraps field validation failures (see FieldErrors).
	ErrInvalid = validation.ErrInvalid
	// ErrVersionMismatch means an If-Match precondition failed.
	ErrVersionMismatch = errors.New("webhook endpoint has changed")
	// ErrEndpointDisabled refuses test events and retries to a disabled
	// endpoint: enable it first.
	ErrEndpointDisabled = errors.New("webhook endpoint is disabled")
	// ErrUnknownEvent refuses an event type outside EventTypes.
	ErrUnknownEvent = errors.New("unknown event type")
)

// FieldError names one invalid field and why.
type FieldError = validation.FieldError

// FieldErrors lists every invalid field of a request at once.
type FieldErrors = validation.Errors

// Endpoint is a registered receiver.
type Endpoint struct {
	ID          string `gorm:"primaryKey"`
	AccountID   string
	Environment account.Environment
	URL         string `gorm:"column:url"`
	Description string
	// Events is the subscription: event types, or just AllEvents.
	Events         []string `gorm:"serializer:json"`
	Enabled        bool
	DisabledReason string
	DisabledAt     *time.Time
	// Secret signs every delivery; PreviousSecret also signs until
	// PreviousSecretExpiresAt, so receivers can switch keys without loss.
	Secret                  string
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	// FailingSince is the first failed attempt since the last success.
	FailingSince *time.Time
	// Version increases with every change; it is the ETag.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName maps Endpoint to its table.
func (Endpoint) TableName() string { return "webhook_endpoints" }

// Subscribed reports whether the endpoint wants events of type t.
func (e *Endpoint) Subscribed(t string) bool {
	return slices.Contains(e.Events, AllEvents) || slices.Contains(e.Events, t)
}

// liveSecrets returns the secrets that sign a message sent at now, newest
// first: the previous one only within its overlap.
func liveSecrets(secret, previous string, previousExpires *time.Time, now time.Time) []string {
	out := []string{secret}
	if previous != "" && previousExpires != nil && now.Before(*previousExpires) {
		out = append(out, previous)
	}
	return out
}

// Delivery statuses.
const (
	StatusPending   = "PENDING"   // an attempt is scheduled
	StatusDelivered = "DELIVERED" // the last attempt got a 2xx
	StatusFailed    = "FAILED"    // retries exhausted, 410 Gone, or endpoint disabled
)

// Delivery is one message to one endpoint and its schedule.
type Delivery struct {
	ID         string `gorm:"primaryKey"`
	EndpointID string
	// EventID is the message id, sent as webhook-id on every attempt.
	EventID   string
	EventType string
	// OrderingKey groups messages about one subject (an envelope) whose
	// first attempts go out in order of occurrence.
	OrderingKey string
	OccurredAt  time.Time
	Status      string
	Attempts    int
	// Retries counts automatic retries scheduled so far (bounded by the
	// schedule's length).
	Retries int
	// Deferrals counts attempts put off because the endpoint was busy or an
	// earlier message was not yet sent; they are not attempts.
	Deferrals          int
	Generation         int
	NextAttemptAt      *time.Time
	LastAttemptAt      *time.Time
	LastResponseStatus *int
	LastError          string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// TableName maps Delivery to its table.
func (Delivery) TableName() string { return "webhook_deliveries" }

// Attempt triggers.
const (
	TriggerScheduled = "scheduled"
	TriggerManual    = "manual"
)

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	ID             string `gorm:"primaryKey"`
	DeliveryID     string
	EndpointID     string
	Number         int
	Trigger        string
	URL            string `gorm:"column:url"`
	StartedAt      time.Time
	DurationMS     int `gorm:"column:duration_ms"`
	ResponseStatus *int
	// ResponseBody holds the first MaxResponseBody bytes, as text.
	ResponseBody string
	// Error says why no response came (timeout, refused address, …).
	Error string
}

// TableName maps Attempt to its table.
func (Attempt) TableName() string { return "webhook_attempts" }

// eventRecord is the stored body of a published event.
type eventRecord struct {
	ID          string `gorm:"primaryKey"`
	AccountID   string
	Environment string
	Type        string
	Payload     []byte
	OccurredAt  time.Time
	CreatedAt   time.Time
}

func (eventRecord) TableName() string { return "webhook_events" }

// DeliveryDetail is a delivery with its payload and attempts, newest last.
type DeliveryDetail struct {
	Delivery
	Payload  []byte
	Attempts []Attempt
}

// Notifier tells an account that one of its endpoints was disabled. The
// composition root wires the mailer behind it.
type Notifier interface {
	EndpointDisabled(ctx context.Context, n DisabledNotice) error
}

// DisabledNotice describes a disabled endpoint for its owner.
type DisabledNotice struct {
	AccountID    string
	AccountEmail string
	Environment  string
	EndpointID   string
	URL          string
	Reason       string
	DisabledAt   time.Time
}

// DefaultSchedule is the delay before each automatic retry: about 28 hours
// in all, then the delivery is FAILED.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Config tunes delivery.
type Config struct {
	// Schedule is the delay before each automatic retry (DefaultSchedule).
	Schedule []time.Duration
	// Jitter spreads each retry by up to this fraction of its delay, so an
	// outage's backlog does not return all at once (default 0.1; negative
	// means none).
	Jitter float64
	// Timeout bounds one attempt, connection to last byte (default 10 s).
	Timeout time.Duration
	// DisableAfter disables an endpoint failing continuously this long
	// (default 5 days).
	DisableAfter time.Duration
	// AllowPrivate lets deliveries reach loopback, private, link-local and
	// metadata addresses (VELLUM_WEBHOOK_ALLOW_PRIVATE; `vellum dev` only).
	AllowPrivate bool
	// AllowHTTP accepts http:// URLs as well as https://.
	AllowHTTP bool
	// MaxResponseBody is how much of a response body an attempt keeps
	// (default 4 KiB).
	MaxResponseBody int
	// MaxAttemptsLogged caps the attempt rows kept per delivery; older ones
	// are dropped (default 30: the 8 scheduled ones and manual retries).
	MaxAttemptsLogged int
	// Retention keeps finished deliveries and attempts this long (default 30 days).
	Retention time.Duration
	// EndpointConcurrency caps one endpoint's attempts in flight in one
	// process, so a slow endpoint cannot take every worker slot (default 5).
	EndpointConcurrency int
	// OrderWait is how long a message waits for an earlier message of the
	// same subject to be attempted first (default 15 s); past it, order is
	// given up rather than delay further.
	OrderWait time.Duration
	// UserAgent is sent with every attempt.
	UserAgent string
	// RootCAs verifies https receivers; nil means the system roots (tests
	// trust httptest's certificate with it).
	RootCAs *x509.CertPool
}

func (c *Config) defaults() {
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule
	}
	if c.Jitter < 0 {
		c.Jitter = 0
	} else if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = 5 * 24 * time.Hour
	}
	if c.MaxResponseBody <= 0 {
		c.MaxResponseBody = 4096
	}
	if c.MaxAttemptsLogged <= 0 {
		c.MaxAttemptsLogged = 30
	}
	if c.Retention <= 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.EndpointConcurrency <= 0 {
		c.EndpointConcurrency = 5
	}
	if c.OrderWait <= 0 {
		c.OrderWait = 15 * time.Second
	}
	if c.UserAgent == "" {
		c.UserAgent = "Vellum-Webhooks/1.0"
	}
}
