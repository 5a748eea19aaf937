package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/listing"
)

// Task types.
const (
	// TaskDeliver sends an endpoint's due first attempts (a batch task) or
	// makes one attempt of one delivery (retries, manual retries, tests).
	TaskDeliver = "webhook:deliver"
	// TaskEndpointDisabled tells the account an endpoint was disabled.
	TaskEndpointDisabled = "webhook:endpoint-disabled"
)

// MaxDescriptionLen bounds an endpoint's description.
const MaxDescriptionLen = 1000

// RotationOverlap is how long the previous secret keeps signing after a
// rotation.
const RotationOverlap = 24 * time.Hour

// Precondition is an If-Match check on an endpoint's version; nil passes.
type Precondition func(version int) bool

// Service manages endpoints and publishes events to them.
type Service struct {
	db     *db.DB
	outbox *jobs.Outbox
	cfg    Config
	now    func() time.Time
}

// NewService returns the webhook service.
func NewService(database *db.DB, outbox *jobs.Outbox, cfg Config) *Service {
	cfg.defaults()
	return &Service{db: database, outbox: outbox, cfg: cfg, now: func() time.Time { return time.Now().UTC() }}
}

// urlPolicy is the registration policy for endpoint URLs.
func (s *Service) urlPolicy() URLPolicy {
	return URLPolicy{AllowHTTP: s.cfg.AllowHTTP, AllowPrivate: s.cfg.AllowPrivate}
}

// CreateInput is a new endpoint.
type CreateInput struct {
	URL         string
	Events      []string // nil or ["*"]: every event
	Description string
}

// Patch changes an endpoint; nil fields are left alone.
type Patch struct {
	URL         *string
	Events      *[]string
	Description *string
	Enabled     *bool
}

// normalizeEvents validates a subscription and returns it without
// duplicates; empty means every event.
func normalizeEvents(in []string) ([]string, FieldErrors) {
	var errs FieldErrors
	out := make([]string, 0, len(in))
	for i, t := range in {
		switch {
		case t == AllEvents:
			return []string{AllEvents}, nil
		case !KnownEventType(t):
			errs = append(errs, FieldError{Field: fmt.Sprintf("events[%d]", i), Reason: fmt.Sprintf("unknown event type %q; known: %s, or * for all", t, strings.Join(EventTypes, ", "))})
		default:
			dup := false
			for _, o := range out {
				dup = dup || o == t
			}
			if !dup {
				out = append(out, t)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(out) == 0 {
		return []string{AllEvents}, nil
	}
	return out, nil
}

// checkInput validates an endpoint's fields without storing them,
// returning the canonical URL and events.
func (s *Service) checkInput(url string, events []string, description string) (string, []string, FieldErrors) {
	var errs FieldErrors
	u, err := s.urlPolicy().ValidateURL(url)
	if err != nil {
		errs = append(errs, FieldError{Field: "url", Reason: err.Error()})
	}
	ev, evErrs := normalizeEvents(events)
	errs = append(errs, evErrs...)
	if utf8.RuneCountInString(description) > MaxDescriptionLen || !utf8.ValidString(description) {
		errs = append(errs, FieldError{Field: "description", Reason: fmt.Sprintf("must be valid text of at most %d characters", MaxDescriptionLen)})
	}
	return u, ev, errs
}

// Create registers an endpoint with a fresh secret; the secret is in the
// returned endpoint, the only time the API shows it.
func (s *Service) Create(ctx context.Context, scope account.Scope, in CreateInput) (*Endpoint, error) {
	u, events, errs := s.checkInput(in.URL, in.Events, in.Description)
	if len(errs) > 0 {
		return nil, errs
	}
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	now := s.now()
	e := &Endpoint{
		ID: ident.New("wh"), AccountID: scope.AccountID, Environment: scope.Environment,
		URL: u, Description: in.Description, Events: events, Enabled: true,
		Secret: secret, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.db.Conn(ctx).Create(e).Error; err != nil {
		return nil, fmt.Errorf("create webhook endpoint: %w", err)
	}
	return e, nil
}

func (s *Service) scoped(ctx context.Context, scope account.Scope) *gorm.DB {
	return s.db.Conn(ctx).Model(&Endpoint{}).
		Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
}

// Get returns endpoint id of scope; another scope's endpoint is ErrNotFound,
// exactly as a missing one.
func (s *Service) Get(ctx context.Context, scope account.Scope, id string) (*Endpoint, error) {
	return s.get(ctx, scope, id, false)
}

func (s *Service) get(ctx context.Context, scope account.Scope, id string, forUpdate bool) (*Endpoint, error) {
	var e Endpoint
	q := s.scoped(ctx, scope).Where("id = ?", id)
	if forUpdate {
		q = s.db.ForUpdate(q, false)
	}
	if err := q.Take(&e).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("webhook endpoint %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get webhook endpoint %s: %w", id, err)
	}
	return &e, nil
}

var endpointColumns = map[string]string{"createdAt": "created_at", "updatedAt": "updated_at", "url": "url"}

// SortFields are the fields endpoints can be sorted by.
var SortFields = []string{"createdAt", "updatedAt", "url"}

// EndpointFilter narrows an endpoint list.
type EndpointFilter struct {
	Enabled *bool
}

// List returns one page of scope's endpoints.
func (s *Service) List(ctx context.Context, scope account.Scope, q listing.Query, f EndpointFilter) (listing.Page[Endpoint], error) {
	base := s.scoped(ctx, scope)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	if f.Enabled != nil {
		base = base.Where("enabled = ?", *f.Enabled)
	}
	var page listing.Page[Endpoint]
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count webhook endpoints: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(endpointColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return page, nil
}

// Update applies p. Enabling an endpoint clears its failure record, so it
// gets the full five days again.
func (s *Service) Update(ctx context.Context, scope account.Scope, id string, p Patch, match Precondition) (*Endpoint, error) {
	var e *Endpoint
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if e, err = s.get(ctx, scope, id, true); err != nil {
			return err
		}
		if match != nil && !match(e.Version) {
			return fmt.Errorf("webhook endpoint %s is at version %d: %w", id, e.Version, ErrVersionMismatch)
		}
		url, events, desc := e.URL, e.Events, e.Description
		if p.URL != nil {
			url = *p.URL
		}
		if p.Events != nil {
			events = *p.Events
		}
		if p.Description != nil {
			desc = *p.Description
		}
		u, ev, errs := s.checkInput(url, events, desc)
		if p.URL == nil && len(errs) > 0 {
			// A URL registered under a laxer policy stays until it is changed.
			u, errs = e.URL, withoutField(errs, "url")
		}
		if len(errs) > 0 {
			return errs
		}
		now := s.now()
		e.URL, e.Events, e.Description = u, ev, desc
		if p.Enabled != nil && *p.Enabled != e.Enabled {
			e.Enabled = *p.Enabled
			if e.Enabled {
				e.DisabledReason, e.DisabledAt, e.FailingSince = "", nil, nil
			} else {
				e.DisabledReason, e.DisabledAt = "disabled through the API", &now
			}
		}
		e.Version++
		e.UpdatedAt = now
		evJSON, _ := json.Marshal(e.Events)
		return s.db.Conn(ctx).Model(&Endpoint{}).Where("id = ?", e.ID).Updates(map[string]any{
			"url": e.URL, "events": string(evJSON), "description": e.Description, "enabled": e.Enabled,
			"disabled_reason": e.DisabledReason, "disabled_at": e.DisabledAt, "failing_since": e.FailingSince,
			"version": e.Version, "updated_at": e.UpdatedAt,
		}).Error
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

func withoutField(errs FieldErrors, field string) FieldErrors {
	var out FieldErrors
	for _, e := range errs {
		if e.Field != field {
			out = append(out, e)
		}
	}
	return out
}

// Delete removes an endpoint with its deliveries and their attempts; tasks
// already queued for it find nothing and do nothing.
func (s *Service) Delete(ctx context.Context, scope account.Scope, id string, match Precondition) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		e, err := s.get(ctx, scope, id, true)
		if err != nil {
			return err
		}
		if match != nil && !match(e.Version) {
			return fmt.Errorf("webhook endpoint %s is at version %d: %w", id, e.Version, ErrVersionMismatch)
		}
		if err := s.db.Conn(ctx).Where("id = ?", id).Delete(&Endpoint{}).Error; err != nil {
			return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
		}
		return nil
	})
}

// RotateSecret gives the endpoint a new secret; for RotationOverlap the old
// one signs too, so receivers can switch without rejecting anything. The
// new secret is in the returned endpoint.
func (s *Service) RotateSecret(ctx context.Context, scope account.Scope, id string) (*Endpoint, error) {
	var e *Endpoint
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if e, err = s.get(ctx, scope, id, true); err != nil {
			return err
		}
		secret, err := newSecret()
		if err != nil {
			return err
		}
		now := s.now()
		until := now.Add(RotationOverlap)
		e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret = e.Secret, &until, secret
		e.Version++
		e.UpdatedAt = now
		return s.db.Conn(ctx).Model(&Endpoint{}).Where("id = ?", e.ID).Updates(map[string]any{
			"secret": e.Secret, "previous_secret": e.PreviousSecret, "previous_secret_expires_at": until,
			"version": e.Version, "updated_at": now,
		}).Error
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// payload is the body of every message.
type payload struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// subject is what the ordering key is read from: the envelope a message is
// about, else the object itself.
type subject struct {
	EnvelopeID string `json:"envelopeId"`
	ID         string `json:"id"`
}

// Publish records one message per matching enabled endpoint and its delivery
// task, inside the caller's transaction (ctx), so a state change and its
// webhooks commit together. With no matching endpoint it writes nothing.
func (s *Service) Publish(ctx context.Context, e Event) error {
	if e.Type == EventTest || !KnownEventType(e.Type) {
		return fmt.Errorf("publish %q: %w", e.Type, ErrUnknownEvent)
	}
	if e.ID == "" || e.AccountID == "" {
		return errors.New("publish webhook event: ID and AccountID are required")
	}
	if _, err := account.ParseEnvironment(e.Environment); err != nil {
		return fmt.Errorf("publish webhook event %s: %w", e.ID, err)
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		var endpoints []struct {
			ID     string
			Events []string `gorm:"serializer:json"`
		}
		err := s.db.Conn(ctx).Table("webhook_endpoints").Select("id, events").
			Where("account_id = ? AND environment = ? AND enabled", e.AccountID, e.Environment).
			Find(&endpoints).Error
		if err != nil {
			return fmt.Errorf("publish %s: find endpoints: %w", e.ID, err)
		}
		var targets []string
		for _, ep := range endpoints {
			if (&Endpoint{Events: ep.Events}).Subscribed(e.Type) {
				targets = append(targets, ep.ID)
			}
		}
		if len(targets) == 0 {
			return nil
		}
		// The transaction names the batch: its messages to one endpoint
		// share one task.
		_, err = s.record(ctx, e, targets, "t"+db.TxID(ctx))
		return err
	})
}

// record stores the event and a delivery per endpoint with its first task:
// the endpoint's batch task of the transaction batch, or with batch empty
// (a test event) a manual task of the delivery alone.
func (s *Service) record(ctx context.Context, e Event, endpointIDs []string, batch string) ([]Delivery, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("publish %s: marshal data: %w", e.ID, err)
	}
	occurred := e.OccurredAt.UTC()
	if occurred.IsZero() {
		occurred = s.now()
	}
	body, err := json.Marshal(payload{Type: e.Type, Timestamp: occurred.Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return nil, fmt.Errorf("publish %s: marshal payload: %w", e.ID, err)
	}
	var subj subject
	_ = json.Unmarshal(data, &subj) // data that is not an object simply has no subject
	key := subj.EnvelopeID
	if key == "" {
		key = subj.ID
	}
	now := s.now()
	ev := eventRecord{ID: e.ID, AccountID: e.AccountID, Environment: e.Environment, Type: e.Type,
		Payload: body, OccurredAt: occurred, CreatedAt: now}
	if err := s.db.Conn(ctx).Create(&ev).Error; err != nil {
		return nil, fmt.Errorf("publish %s: record event: %w", e.ID, err)
	}
	deliveries := make([]Delivery, 0, len(endpointIDs))
	tasks := make([]jobs.Task, 0, len(endpointIDs))
	for _, id := range endpointIDs {
		d := Delivery{
			ID: ident.New("dlv"), EndpointID: id, EventID: e.ID, EventType: e.Type, OrderingKey: key,
			OccurredAt: occurred, Status: StatusPending, Generation: 1, NextAttemptAt: &now,
			CreatedAt: now, UpdatedAt: now,
		}
		deliveries = append(deliveries, d)
		if batch == "" {
			tasks = append(tasks, deliverTask(d.ID, d.Generation, true, time.Time{}, s.cfg.Timeout))
		} else {
			tasks = append(tasks, batchTask(id, batch, time.Time{}, s.cfg.Timeout))
		}
	}
	if err := s.db.Conn(ctx).Create(&deliveries).Error; err != nil {
		return nil, fmt.Errorf("publish %s: record deliveries: %w", e.ID, err)
	}
	if err := s.outbox.Enqueue(ctx, tasks...); err != nil {
		return nil, fmt.Errorf("publish %s: %w", e.ID, err)
	}
	return deliveries, nil
}

// deliverPayload is a TaskDeliver task's payload.
type deliverPayload struct {
	// EndpointID alone (no DeliveryID) makes the task the endpoint's batch
	// of first attempts.
	EndpointID string `json:"endpointId,omitempty"`
	DeliveryID string `json:"deliveryId,omitempty"`
	Generation int    `json:"generation"`
	Manual     bool   `json:"manual,omitempty"`
}

// deliverTask is the task for one scheduled attempt. Its key carries the
// generation because an outbox id is unique forever: every schedule needs
// its own.
func deliverTask(deliveryID string, generation int, manual bool, runAt time.Time, timeout time.Duration) jobs.Task {
	return jobs.Task{
		Type: TaskDeliver, Key: fmt.Sprintf("%s:%d", deliveryID, generation),
		Payload: deliverPayload{DeliveryID: deliveryID, Generation: generation, Manual: manual},
		Queue:   jobs.QueueWebhooks, RunAt: runAt,
		// HTTP failures are retried by our own schedule; Asynq's retries
		// only cover the database or Redis failing under the handler.
		MaxRetry: 20,
		Timeout:  timeout + 10*time.Second,
	}
}

// SendTest sends a webhook.test event to one endpoint, whatever it
// subscribes to.
func (s *Service) SendTest(ctx context.Context, scope account.Scope, endpointID string) (*Delivery, error) {
	var out *Delivery
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		e, err := s.get(ctx, scope, endpointID, false)
		if err != nil {
			return err
		}
		if !e.Enabled {
			return fmt.Errorf("send test event to %s: %w", endpointID, ErrEndpointDisabled)
		}
		ev := Event{ID: ident.New("evt"), Type: EventTest, AccountID: scope.AccountID,
			Environment: string(scope.Environment), OccurredAt: s.now(),
			Data: map[string]string{"webhookId": e.ID, "message": "This is a test event from Vellum."}}
		ds, err := s.record(ctx, ev, []string{e.ID}, "")
		if err != nil {
			return err
		}
		out = &ds[0]
		return nil
	})
	return out, err
}

var deliveryColumns = map[string]string{"createdAt": "created_at", "occurredAt": "occurred_at"}

// DeliverySortFields are the fields deliveries can be sorted by.
var DeliverySortFields = []string{"createdAt", "occurredAt"}

// DeliveryStatuses are the values of Delivery.Status.
var DeliveryStatuses = []string{StatusPending, StatusDelivered, StatusFailed}

// DeliveryFilter narrows a delivery list.
type DeliveryFilter struct {
	Status    string
	EventType string
}

// ListDeliveries returns one page of an endpoint's deliveries.
func (s *Service) ListDeliveries(ctx context.Context, scope account.Scope, endpointID string, q listing.Query, f DeliveryFilter) (listing.Page[Delivery], error) {
	var page listing.Page[Delivery]
	if _, err := s.get(ctx, scope, endpointID, false); err != nil {
		return page, err
	}
	base := s.db.Conn(ctx).Model(&Delivery{}).Where("endpoint_id = ?", endpointID)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	if f.Status != "" {
		base = base.Where("status = ?", f.Status)
	}
	if f.EventType != "" {
		base = base.Where("event_type = ?", f.EventType)
	}
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count webhook deliveries: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(deliveryColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list webhook deliveries: %w", err)
	}
	return page, nil
}

// GetDelivery returns a delivery with its payload and logged attempts.
func (s *Service) GetDelivery(ctx context.Context, scope account.Scope, endpointID, deliveryID string) (*DeliveryDetail, error) {
	d, err := s.delivery(ctx, scope, endpointID, deliveryID, false)
	if err != nil {
		return nil, err
	}
	out := &DeliveryDetail{Delivery: *d}
	var ev eventRecord
	if err := s.db.Conn(ctx).Where("id = ?", d.EventID).Take(&ev).Error; err != nil {
		return nil, fmt.Errorf("get webhook delivery %s payload: %w", deliveryID, err)
	}
	out.Payload = ev.Payload
	if err := s.db.Conn(ctx).Where("delivery_id = ?", d.ID).Order("number").Find(&out.Attempts).Error; err != nil {
		return nil, fmt.Errorf("get webhook delivery %s attempts: %w", deliveryID, err)
	}
	return out, nil
}

func (s *Service) delivery(ctx context.Context, scope account.Scope, endpointID, deliveryID string, forUpdate bool) (*Delivery, error) {
	if _, err := s.get(ctx, scope, endpointID, false); err != nil {
		return nil, err
	}
	var d Delivery
	q := s.db.Conn(ctx).Where("id = ? AND endpoint_id = ?", deliveryID, endpointID)
	if forUpdate {
		q = s.db.ForUpdate(q, false)
	}
	if err := q.Take(&d).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("webhook delivery %s: %w", deliveryID, ErrNotFound)
		}
		return nil, fmt.Errorf("get webhook delivery %s: %w", deliveryID, err)
	}
	return &d, nil
}

// Retry makes one more attempt of a delivery now, whatever its status; it
// replaces any scheduled attempt. If it fails and automatic retries remain,
// the schedule continues from where it was.
func (s *Service) Retry(ctx context.Context, scope account.Scope, endpointID, deliveryID string) (*Delivery, error) {
	var d *Delivery
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		e, err := s.get(ctx, scope, endpointID, false)
		if err != nil {
			return err
		}
		if !e.Enabled {
			return fmt.Errorf("retry delivery %s: %w", deliveryID, ErrEndpointDisabled)
		}
		if d, err = s.delivery(ctx, scope, endpointID, deliveryID, true); err != nil {
			return err
		}
		now := s.now()
		d.Generation++
		d.Status, d.NextAttemptAt, d.UpdatedAt = StatusPending, &now, now
		if err := s.db.Conn(ctx).Model(&Delivery{}).Where("id = ?", d.ID).Updates(map[string]any{
			"generation": d.Generation, "status": d.Status, "next_attempt_at": now, "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("retry delivery %s: %w", deliveryID, err)
		}
		return s.outbox.Enqueue(ctx, deliverTask(d.ID, d.Generation, true, time.Time{}, s.cfg.Timeout))
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
