package vellum

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook is a registered endpoint.
type Webhook struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	// DisabledReason says why the endpoint was disabled (410 Gone, 5 days
	// of failures, or the API).
	DisabledReason string     `json:"disabledReason,omitempty"`
	DisabledAt     *time.Time `json:"disabledAt,omitempty"`
	// PreviousSecretExpiresAt, after a rotation, is until when deliveries
	// are also signed with the previous secret.
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
	// ETag is the response's ETag header, for [WithIfMatch].
	ETag string `json:"-"`
}

// WebhookWithSecret is a Webhook with its whsec_… signing secret, shown
// only on creation and rotation.
type WebhookWithSecret struct {
	Webhook
	Secret string `json:"secret"`
	// SecretWithheld is true, and Secret empty, when the answer is an
	// Idempotency-Key replay: secrets are never stored for replay, so a
	// caller that lost the first answer must revoke or rotate.
	SecretWithheld bool `json:"secretWithheld,omitempty"`
}

// WebhookRequest registers an endpoint. Events empty or ["*"] means all.
type WebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events,omitempty"`
	Description string   `json:"description,omitempty"`
}

// WebhookUpdate changes an endpoint; nil members are kept.
type WebhookUpdate struct {
	URL         *string  `json:"url,omitempty"`
	Events      []string `json:"events,omitempty"`
	Description *string  `json:"description,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
}

// DeliveryStatus is PENDING, DELIVERED or FAILED.
type DeliveryStatus string

// The delivery states.
const (
	DeliveryPending   DeliveryStatus = "PENDING"
	DeliveryDelivered DeliveryStatus = "DELIVERED"
	DeliveryFailed    DeliveryStatus = "FAILED"
)

// WebhookDelivery is one event's delivery to one endpoint.
type WebhookDelivery struct {
	ID                 string         `json:"id"`
	WebhookID          string         `json:"webhookId"`
	EventID            string         `json:"eventId"`
	EventType          string         `json:"eventType"`
	Status             DeliveryStatus `json:"status"`
	Attempts           int            `json:"attempts"`
	LastResponseStatus *int           `json:"lastResponseStatus"`
	LastError          string         `json:"lastError,omitempty"`
	LastAttemptAt      *time.Time     `json:"lastAttemptAt"`
	NextAttemptAt      *time.Time     `json:"nextAttemptAt"`
	OccurredAt         time.Time      `json:"occurredAt"`
	CreatedAt          time.Time      `json:"createdAt"`
}

// WebhookDeliveryDetail is a delivery with its payload and attempts.
type WebhookDeliveryDetail struct {
	WebhookDelivery
	Payload    WebhookPayload   `json:"payload"`
	AttemptLog []WebhookAttempt `json:"attemptLog"`
}

// WebhookPayload is the body sent: {type, timestamp, data}.
type WebhookPayload struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// WebhookAttempt is one HTTP attempt of a delivery.
type WebhookAttempt struct {
	Number         int       `json:"number"`
	Trigger        string    `json:"trigger"`
	URL            string    `json:"url"`
	StartedAt      time.Time `json:"startedAt"`
	DurationMs     int64     `json:"durationMs"`
	ResponseStatus *int      `json:"responseStatus"`
	ResponseBody   string    `json:"responseBody"`
	Error          string    `json:"error,omitempty"`
}

// WebhookListParams filter a webhook listing.
type WebhookListParams struct {
	ListParams
	// Enabled, when set, keeps only enabled (true) or disabled endpoints.
	Enabled *bool
}

// DeliveryListParams filter a delivery listing.
type DeliveryListParams struct {
	ListParams
	Status    DeliveryStatus
	EventType string
}

// WebhookService is the /api/v1/webhooks resource.
type WebhookService struct{ c *Client }

// Create registers an endpoint and returns it with its secret.
func (s *WebhookService) Create(ctx context.Context, r *WebhookRequest) (*WebhookWithSecret, error) {
	var w WebhookWithSecret
	if err := s.c.sendJSON(ctx, http.MethodPost, "/api/v1/webhooks", r, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// Get fetches an endpoint.
func (s *WebhookService) Get(ctx context.Context, id string) (*Webhook, error) {
	var w Webhook
	if err := s.c.getJSON(ctx, pathf("/api/v1/webhooks/%s", id), nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// Update changes an endpoint.
func (s *WebhookService) Update(ctx context.Context, id string, u *WebhookUpdate) (*Webhook, error) {
	var w Webhook
	if err := s.c.sendJSON(ctx, http.MethodPatch, pathf("/api/v1/webhooks/%s", id), u, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// Delete removes an endpoint.
func (s *WebhookService) Delete(ctx context.Context, id string) error {
	return s.c.sendJSON(ctx, http.MethodDelete, pathf("/api/v1/webhooks/%s", id), nil, nil)
}

// RotateSecret issues a new secret; the previous one keeps signing
// deliveries for 24 hours.
func (s *WebhookService) RotateSecret(ctx context.Context, id string) (*WebhookWithSecret, error) {
	var w WebhookWithSecret
	if err := s.c.sendJSON(ctx, http.MethodPost, pathf("/api/v1/webhooks/%s/rotate-secret", id), nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// Test queues a webhook.test event to the endpoint.
func (s *WebhookService) Test(ctx context.Context, id string) (*WebhookDelivery, error) {
	var d WebhookDelivery
	if err := s.c.sendJSON(ctx, http.MethodPost, pathf("/api/v1/webhooks/%s/test", id), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// List walks the caller's endpoints.
func (s *WebhookService) List(ctx context.Context, p *WebhookListParams) iter.Seq2[Webhook, error] {
	var q url.Values
	if p == nil {
		q = (*ListParams)(nil).values()
	} else {
		q = p.values()
		if p.Enabled != nil {
			q.Set("enabled", strconv.FormatBool(*p.Enabled))
		}
	}
	return list[Webhook](ctx, s.c, "/api/v1/webhooks", q)
}

// Deliveries walks an endpoint's deliveries.
func (s *WebhookService) Deliveries(ctx context.Context, webhookID string, p *DeliveryListParams) iter.Seq2[WebhookDelivery, error] {
	var q url.Values
	if p == nil {
		q = (*ListParams)(nil).values()
	} else {
		q = p.values()
		if p.Status != "" {
			q.Set("status", string(p.Status))
		}
		if p.EventType != "" {
			q.Set("eventType", p.EventType)
		}
	}
	return list[WebhookDelivery](ctx, s.c, pathf("/api/v1/webhooks/%s/deliveries", webhookID), q)
}

// Delivery fetches a delivery with its payload and attempt log.
func (s *WebhookService) Delivery(ctx context.Context, webhookID, deliveryID string) (*WebhookDeliveryDetail, error) {
	var d WebhookDeliveryDetail
	if err := s.c.getJSON(ctx, pathf("/api/v1/webhooks/%s/deliveries/%s", webhookID, deliveryID), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// RetryDelivery attempts a delivery again now.
func (s *WebhookService) RetryDelivery(ctx context.Context, webhookID, deliveryID string) (*WebhookDelivery, error) {
	var d WebhookDelivery
	if err := s.c.sendJSON(ctx, http.MethodPost, pathf("/api/v1/webhooks/%s/deliveries/%s/retry", webhookID, deliveryID), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (v *Webhook) setETag(etag string) { v.ETag = etag }
