package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/webhook"
)

// WebhookRoutes serves /api/v1/webhooks: endpoints, their secrets, their
// deliveries with every attempt, manual retries and test events.
func WebhookRoutes(hooks *webhook.Service) func(e *echo.Echo, api *echo.Group) {
	h := &webhookHandlers{hooks: hooks}
	return func(_ *echo.Echo, api *echo.Group) {
		api.POST("/webhooks", h.create)
		api.GET("/webhooks", h.list)
		api.GET("/webhooks/:id", h.get)
		api.PATCH("/webhooks/:id", h.update)
		api.DELETE("/webhooks/:id", h.delete)
		api.POST("/webhooks/:id/rotate-secret", h.rotateSecret)
		api.POST("/webhooks/:id/test", h.sendTest)
		api.GET("/webhooks/:id/deliveries", h.listDeliveries)
		api.GET("/webhooks/:id/deliveries/:deliveryId", h.getDelivery)
		api.POST("/webhooks/:id/deliveries/:deliveryId/retry", h.retry)
	}
}

type webhookHandlers struct{ hooks *webhook.Service }

// webhookResponse is an endpoint as the API shows it; the secret only on
// creation and rotation.
type webhookResponse struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	Description    string     `json:"description"`
	Enabled        bool       `json:"enabled"`
	DisabledReason string     `json:"disabledReason,omitempty"`
	DisabledAt     *time.Time `json:"disabledAt,omitempty"`
	// PreviousSecretExpiresAt says until when the previous secret still
	// signs, after a rotation.
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
	Secret                  string     `json:"secret,omitempty"`
	// SecretWithheld marks an Idempotency-Key replay: the secret was shown
	// once and is not stored outside its endpoint to show again.
	SecretWithheld bool `json:"secretWithheld,omitempty"`
}

func toWebhookResponse(e *webhook.Endpoint) webhookResponse {
	r := webhookResponse{
		ID: e.ID, URL: e.URL, Events: e.Events, Description: e.Description, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, DisabledAt: utcPtr(e.DisabledAt),
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
	}
	if e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.After(time.Now()) {
		r.PreviousSecretExpiresAt = utcPtr(e.PreviousSecretExpiresAt)
	}
	if r.Events == nil {
		r.Events = []string{}
	}
	return r
}

// toWebhookSecretResponse is toWebhookResponse with the secret, for the two
// moments the API shows it; an Idempotency-Key replay of them gets the
// endpoint with secretWithheld instead.
func toWebhookSecretResponse(c echo.Context, e *webhook.Endpoint) webhookResponse {
	r := toWebhookResponse(e)
	r.SecretWithheld = true
	withholdOnReplay(c, r)
	r.SecretWithheld = false
	r.Secret = e.Secret
	return r
}

func webhookETag(e *webhook.Endpoint) string { return `"v` + strconv.Itoa(e.Version) + `"` }

type createWebhookRequest struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
}

type updateWebhookRequest struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

func (h *webhookHandlers) create(c echo.Context) error {
	var req createWebhookRequest
	bad, err := bindJSON(c, &req)
	if err != nil {
		return err
	}
	if req.URL == nil && !hasParam(bad, "url") {
		bad = append(bad, InvalidParam{Name: "url", Reason: "required: the https URL to deliver events to"})
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	in := webhook.CreateInput{URL: *req.URL}
	if req.Events != nil {
		in.Events = *req.Events
	}
	if req.Description != nil {
		in.Description = *req.Description
	}
	e, err := h.hooks.Create(c.Request().Context(), APIKey(c).Scope(), in)
	if err != nil {
		return webhookFieldProblem(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/webhooks/"+e.ID)
	c.Response().Header().Set("ETag", webhookETag(e))
	return c.JSON(http.StatusCreated, toWebhookSecretResponse(c, e))
}

func (h *webhookHandlers) list(c echo.Context) error {
	values := c.QueryParams()
	q, bad := listParams(values, webhook.SortFields, "enabled")
	var f webhook.EndpointFilter
	f.Enabled, bad = boolParam(values, "enabled", bad)
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	page, err := h.hooks.List(c.Request().Context(), APIKey(c).Scope(), q, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListResponse(q, page, toWebhookResponse))
}

func (h *webhookHandlers) get(c echo.Context) error {
	e, err := h.hooks.Get(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return err
	}
	etag := webhookETag(e)
	c.Response().Header().Set("ETag", etag)
	if noneMatch(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSON(http.StatusOK, toWebhookResponse(e))
}

func (h *webhookHandlers) update(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req updateWebhookRequest
	bad, err := bindJSON(c, &req, "application/json", "application/merge-patch+json")
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	p := webhook.Patch{URL: req.URL, Events: req.Events, Description: req.Description, Enabled: req.Enabled}
	e, err := h.hooks.Update(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), p, webhook.Precondition(match))
	if err != nil {
		return webhookFieldProblem(err)
	}
	c.Response().Header().Set("ETag", webhookETag(e))
	return c.JSON(http.StatusOK, toWebhookResponse(e))
}

func (h *webhookHandlers) delete(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := h.hooks.Delete(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), webhook.Precondition(match)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *webhookHandlers) rotateSecret(c echo.Context) error {
	e, err := h.hooks.RotateSecret(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", webhookETag(e))
	return c.JSON(http.StatusOK, toWebhookSecretResponse(c, e))
}

// webhookDeliveryResponse is one message to one endpoint. eventId is the
// webhook-id header of every attempt.
type webhookDeliveryResponse struct {
	ID                 string     `json:"id"`
	WebhookID          string     `json:"webhookId"`
	EventID            string     `json:"eventId"`
	EventType          string     `json:"eventType"`
	Status             string     `json:"status"`
	Attempts           int        `json:"attempts"`
	LastResponseStatus *int       `json:"lastResponseStatus"`
	LastError          string     `json:"lastError,omitempty"`
	LastAttemptAt      *time.Time `json:"lastAttemptAt"`
	NextAttemptAt      *time.Time `json:"nextAttemptAt"`
	OccurredAt         time.Time  `json:"occurredAt"`
	CreatedAt          time.Time  `json:"createdAt"`
}

// webhookDeliveryDetailResponse adds the payload and the attempt log.
type webhookDeliveryDetailResponse struct {
	webhookDeliveryResponse
	Payload    json.RawMessage          `json:"payload"`
	AttemptLog []webhookAttemptResponse `json:"attemptLog"`
}

type webhookAttemptResponse struct {
	Number         int       `json:"number"`
	Trigger        string    `json:"trigger"`
	URL            string    `json:"url"`
	StartedAt      time.Time `json:"startedAt"`
	DurationMS     int       `json:"durationMs"`
	ResponseStatus *int      `json:"responseStatus"`
	ResponseBody   string    `json:"responseBody"`
	Error          string    `json:"error,omitempty"`
}

func toWebhookDeliveryResponse(d *webhook.Delivery) webhookDeliveryResponse {
	r := webhookDeliveryResponse{
		ID: d.ID, WebhookID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, LastResponseStatus: d.LastResponseStatus, LastError: d.LastError,
		LastAttemptAt: utcPtr(d.LastAttemptAt), OccurredAt: d.OccurredAt.UTC(), CreatedAt: d.CreatedAt.UTC(),
	}
	if d.Status == webhook.StatusPending {
		r.NextAttemptAt = utcPtr(d.NextAttemptAt)
	}
	return r
}

func toWebhookDeliveryDetailResponse(d *webhook.DeliveryDetail) webhookDeliveryDetailResponse {
	r := webhookDeliveryDetailResponse{
		webhookDeliveryResponse: toWebhookDeliveryResponse(&d.Delivery),
		Payload:                 json.RawMessage(d.Payload),
		AttemptLog:              make([]webhookAttemptResponse, 0, len(d.Attempts)),
	}
	for _, a := range d.Attempts {
		r.AttemptLog = append(r.AttemptLog, webhookAttemptResponse{
			Number: a.Number, Trigger: a.Trigger, URL: a.URL, StartedAt: a.StartedAt.UTC(), DurationMS: a.DurationMS,
			ResponseStatus: a.ResponseStatus, ResponseBody: a.ResponseBody, Error: a.Error,
		})
	}
	return r
}

func (h *webhookHandlers) listDeliveries(c echo.Context) error {
	values := c.QueryParams()
	q, bad := listParams(values, webhook.DeliverySortFields, "status", "eventType")
	f := webhook.DeliveryFilter{Status: values.Get("status"), EventType: values.Get("eventType")}
	if f.Status != "" && !slices.Contains(webhook.DeliveryStatuses, f.Status) {
		bad = append(bad, InvalidParam{Name: "status", Reason: "must be one of " + strings.Join(webhook.DeliveryStatuses, ", ")})
	}
	if f.EventType != "" && f.EventType != webhook.EventTest && !webhook.KnownEventType(f.EventType) {
		bad = append(bad, InvalidParam{Name: "eventType", Reason: fmt.Sprintf("unknown event type %q", f.EventType)})
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	page, err := h.hooks.ListDeliveries(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), q, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListResponse(q, page, toWebhookDeliveryResponse))
}

func (h *webhookHandlers) getDelivery(c echo.Context) error {
	d, err := h.hooks.GetDelivery(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), c.Param("deliveryId"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWebhookDeliveryDetailResponse(d))
}

func (h *webhookHandlers) retry(c echo.Context) error {
	d, err := h.hooks.Retry(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), c.Param("deliveryId"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toWebhookDeliveryResponse(d))
}

func (h *webhookHandlers) sendTest(c echo.Context) error {
	d, err := h.hooks.SendTest(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/webhooks/"+d.EndpointID+"/deliveries/"+d.ID)
	return c.JSON(http.StatusAccepted, toWebhookDeliveryResponse(d))
}

// webhookFieldProblem answers field errors: 422 when an event type is
// unknown (the request is well-formed but names something that does not
// exist), 400 otherwise; anything else passes through.
func webhookFieldProblem(err error) error {
	params := fieldParams(err)
	if len(params) == 0 {
		return err
	}
	unknownEvent := false
	for _, p := range params {
		unknownEvent = unknownEvent || strings.HasPrefix(p.Name, "events[")
	}
	p := NewValidationProblem(params)
	if unknownEvent {
		p.Status, p.Title, p.Code = http.StatusUnprocessableEntity, http.StatusText(http.StatusUnprocessableEntity), "unknown_event_type"
		p.Type = "https://vellum.dev/problems/unknown-event-type"
	}
	return p
}

func hasParam(params []InvalidParam, name string) bool {
	for _, p := range params {
		if p.Name == name {
			return true
		}
	}
	return false
}
