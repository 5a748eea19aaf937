package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/envelope"
)

// EnvelopeRoutes serves /api/v1/envelopes.
func EnvelopeRoutes(envelopes *envelope.Service) func(e *echo.Echo, api *echo.Group) {
	h := &envelopeHandlers{svc: envelopes}
	return func(_ *echo.Echo, api *echo.Group) {
		api.POST("/envelopes", h.create)
		api.GET("/envelopes", h.list)
		api.GET("/envelopes/:id", h.get)
		api.PATCH("/envelopes/:id", h.update)
		api.DELETE("/envelopes/:id", h.delete)
		api.POST("/envelopes/:id/send", h.send)
		api.POST("/envelopes/:id/void", h.void)
		api.POST("/envelopes/:id/remind", h.remind)
		api.POST("/envelopes/:id/recipients/:recipientId/rotate-link", h.rotateLink)
		api.POST("/envelopes/:id/recipients/:recipientId/unlock", h.unlock)
		api.GET("/envelopes/:id/signed-document", h.signedDocument)
		api.GET("/envelopes/:id/audit-trail", h.auditTrail)
		api.GET("/envelopes/:id/events", h.events)
	}
}

type envelopeHandlers struct{ svc *envelope.Service }

// envelopeRequest is the body of POST and PATCH /envelopes.
type envelopeRequest struct {
	Subject                *string             `json:"subject"`
	Message                *string             `json:"message"`
	DocumentIDs            *[]string           `json:"documentIds"`
	Recipients             *[]recipientRequest `json:"recipients"`
	SigningOrder           *string             `json:"signingOrder"`
	ExpiresAt              *string             `json:"expiresAt"`
	ReminderIntervalHours  *int                `json:"reminderIntervalHours"`
	Redirects              *envelope.Redirects `json:"redirects"`
	ExternalReference      *string             `json:"externalReference"`
	Metadata               *map[string]string  `json:"metadata"`
	SignText               *string             `json:"signText"`
	Language               *string             `json:"language"`
	SignatureURLTimeToLive *string             `json:"signatureUrlTimeToLive"`
}

type recipientRequest struct {
	Email  string         `json:"email"`
	Name   string         `json:"name"`
	Role   string         `json:"role"`
	Order  *int           `json:"order"`
	Auth   *authRequest   `json:"auth"`
	Locale string         `json:"locale"`
	Fields []fieldRequest `json:"fields"`
}

type authRequest struct {
	Method     string `json:"method"`
	AccessCode string `json:"accessCode"`
	// Provider and NationalIdentificationNumber go with method OIDC.
	Provider                     string `json:"provider"`
	NationalIdentificationNumber string `json:"nationalIdentificationNumber"`
}

type fieldRequest struct {
	DocumentID string  `json:"documentId"`
	Type       string  `json:"type"`
	Page       int     `json:"page"`
	X          float64 `json:"x"`
	Y          float64 `json:"y"`
	Width      float64 `json:"width"`
	Height     float64 `json:"height"`
	Required   *bool   `json:"required"`
	FieldName  string  `json:"fieldName"`
	// Anchor placement, as DocuSign's anchor tabs.
	AnchorString             string  `json:"anchorString"`
	AnchorXOffset            float64 `json:"anchorXOffset"`
	AnchorYOffset            float64 `json:"anchorYOffset"`
	AnchorUnits              string  `json:"anchorUnits"`
	AnchorIgnoreIfNotPresent bool    `json:"anchorIgnoreIfNotPresent"`
}

// toAnchor is the field's anchor, nil when it is not placed by one.
func (f fieldRequest) toAnchor() *envelope.Anchor {
	if f.AnchorString == "" && f.AnchorUnits == "" && f.AnchorXOffset == 0 && f.AnchorYOffset == 0 && !f.AnchorIgnoreIfNotPresent {
		return nil
	}
	return &envelope.Anchor{String: f.AnchorString, XOffset: f.AnchorXOffset, YOffset: f.AnchorYOffset,
		Units: f.AnchorUnits, IgnoreIfNotPresent: f.AnchorIgnoreIfNotPresent}
}

// toRecipientInputs converts request recipients; an explicit order below 1
// is reported here because the domain reads 0 as "default".
func toRecipientInputs(in []recipientRequest, bad []InvalidParam) ([]envelope.RecipientInput, []InvalidParam) {
	out := make([]envelope.RecipientInput, 0, len(in))
	for i, r := range in {
		ri := envelope.RecipientInput{Email: r.Email, Name: r.Name, Role: envelope.Role(r.Role), Locale: r.Locale}
		if r.Order != nil {
			if *r.Order < 1 {
				bad = append(bad, InvalidParam{Name: fmt.Sprintf("recipients[%d].order", i), Reason: "must be from 1 to 100"})
			}
			ri.Order = *r.Order
		}
		if r.Auth != nil {
			ri.Auth, ri.AccessCode = envelope.AuthMethod(r.Auth.Method), r.Auth.AccessCode
			ri.Provider, ri.NationalID = r.Auth.Provider, r.Auth.NationalIdentificationNumber
		}
		for _, f := range r.Fields {
			required := true
			if f.Required != nil {
				required = *f.Required
			}
			ri.Fields = append(ri.Fields, envelope.FieldInput{DocumentID: f.DocumentID, Type: envelope.FieldType(f.Type),
				Page: f.Page, X: f.X, Y: f.Y, Width: f.Width, Height: f.Height, Required: required,
				FieldName: f.FieldName, Anchor: f.toAnchor()})
		}
		out = append(out, ri)
	}
	return out, bad
}

func parseExpiresAt(s string, bad []InvalidParam) (*time.Time, []InvalidParam) {
	if s == "" {
		return nil, bad
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, append(bad, InvalidParam{Name: "expiresAt", Reason: "must be an RFC 3339 date-time such as 2030-01-31T17:00:00Z"})
	}
	return &t, bad
}

// actorOf is who an API call acts as, for the event log.
func actorOf(c echo.Context) envelope.Actor {
	a := envelope.Actor{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
	if k := APIKey(c); k != nil {
		a.Name = "api:" + k.ID
	}
	return a
}

func envelopeETag(v int) string { return `"v` + strconv.Itoa(v) + `"` }

// envelopeError answers domain errors that need more than RegisterError:
// validation errors list every bad field; illegal transitions are a 409
// carrying the envelope's current state.
func envelopeError(c echo.Context, err error) error {
	if params := fieldParams(err); len(params) > 0 {
		return NewValidationProblem(params)
	}
	var le *envelope.LockedError
	if errors.As(err, &le) {
		wait := int(time.Until(le.Until).Seconds()) + 1
		return rateLimitedError{Problem: NewProblem(http.StatusTooManyRequests, "too_many_attempts", le.Error()), retryAfter: max(wait, 1)}
	}
	var se *envelope.StateError
	if errors.As(err, &se) {
		p := NewProblem(http.StatusConflict, "invalid_state", se.Error())
		if id, ok := c.Get("requestID").(string); ok {
			p.TraceID = id
		}
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		return c.JSON(http.StatusConflict, stateProblem{Problem: *p, CurrentState: string(se.Current)})
	}
	return err
}

// stateProblem is the 409 of an illegal transition: a problem with the
// envelope's current state as an extension member.
type stateProblem struct {
	Problem
	CurrentState string `json:"currentState"`
}

func (h *envelopeHandlers) respond(c echo.Context, status int, env *envelope.Envelope) error {
	c.Response().Header().Set("ETag", envelopeETag(env.Version))
	return c.JSON(status, h.svc.View(env))
}

func (h *envelopeHandlers) create(c echo.Context) error {
	var req envelopeRequest
	bad, err := bindJSON(c, &req)
	if err != nil {
		return err
	}
	in := envelope.Input{}
	if req.Subject != nil {
		in.Subject = *req.Subject
	}
	if req.Message != nil {
		in.Message = *req.Message
	}
	if req.DocumentIDs != nil {
		in.DocumentIDs = *req.DocumentIDs
	}
	if req.Recipients != nil {
		in.Recipients, bad = toRecipientInputs(*req.Recipients, bad)
	}
	if req.SigningOrder != nil {
		in.SigningOrder = envelope.SigningOrder(*req.SigningOrder)
	}
	if req.ExpiresAt != nil {
		in.ExpiresAt, bad = parseExpiresAt(*req.ExpiresAt, bad)
	}
	if req.ReminderIntervalHours != nil {
		in.ReminderIntervalHours = *req.ReminderIntervalHours
	}
	if req.Redirects != nil {
		in.Redirects = *req.Redirects
	}
	if req.ExternalReference != nil {
		in.ExternalReference = *req.ExternalReference
	}
	if req.Metadata != nil {
		in.Metadata = *req.Metadata
	}
	if req.Language != nil {
		in.Language = *req.Language
	}
	if req.SignText != nil {
		in.SignText = *req.SignText
	}
	if req.SignatureURLTimeToLive != nil {
		in.URLTTL = *req.SignatureURLTimeToLive
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	env, err := h.svc.Create(c.Request().Context(), APIKey(c).Scope(), actorOf(c), in)
	if err != nil {
		return envelopeError(c, err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/envelopes/"+env.ID)
	return h.respond(c, http.StatusCreated, env)
}

func (h *envelopeHandlers) list(c echo.Context) error {
	values := c.QueryParams()
	q, bad := listParams(values, envelope.SortFields, "status", "subjectLike", "externalReference")
	// status is repeatable (status=SENT&status=DRAFT), unlike other filters.
	var kept []InvalidParam
	for _, b := range bad {
		if b.Name != "status" {
			kept = append(kept, b)
		}
	}
	bad = kept
	f := envelope.Filter{SubjectLike: values.Get("subjectLike"), ExternalReference: values.Get("externalReference")}
	for _, s := range values["status"] {
		st := envelope.Status(s)
		switch st {
		case envelope.StatusDraft, envelope.StatusSent, envelope.StatusCompleted, envelope.StatusDeclined,
			envelope.StatusVoided, envelope.StatusExpired:
			f.Statuses = append(f.Statuses, st)
		default:
			bad = append(bad, InvalidParam{Name: "status", Reason: fmt.Sprintf("%q is not DRAFT, SENT, COMPLETED, DECLINED, VOIDED or EXPIRED", s)})
		}
	}
	if len(f.SubjectLike) > 255 {
		bad = append(bad, InvalidParam{Name: "subjectLike", Reason: "must be at most 255 characters"})
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	page, err := h.svc.List(c.Request().Context(), APIKey(c).Scope(), q, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListResponse(q, page, func(e *envelope.Envelope) envelope.View { return h.svc.View(e) }))
}

func (h *envelopeHandlers) get(c echo.Context) error {
	env, err := h.svc.Get(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return err
	}
	etag := envelopeETag(env.Version)
	if noneMatch(c.Request().Header.Get("If-None-Match"), etag) {
		c.Response().Header().Set("ETag", etag)
		return c.NoContent(http.StatusNotModified)
	}
	return h.respond(c, http.StatusOK, env)
}

func (h *envelopeHandlers) update(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req envelopeRequest
	bad, err := bindJSON(c, &req, "application/json", "application/merge-patch+json")
	if err != nil {
		return err
	}
	p := envelope.Patch{Subject: req.Subject, Message: req.Message, DocumentIDs: req.DocumentIDs,
		ReminderIntervalHours: req.ReminderIntervalHours, Redirects: req.Redirects, ExternalReference: req.ExternalReference,
		Metadata: req.Metadata, SignText: req.SignText, URLTTL: req.SignatureURLTimeToLive, Language: req.Language}
	if req.Recipients != nil {
		var rs []envelope.RecipientInput
		rs, bad = toRecipientInputs(*req.Recipients, bad)
		p.Recipients = &rs
	}
	if req.SigningOrder != nil {
		so := envelope.SigningOrder(*req.SigningOrder)
		p.SigningOrder = &so
	}
	if req.ExpiresAt != nil {
		var t *time.Time
		t, bad = parseExpiresAt(*req.ExpiresAt, bad)
		p.ExpiresAt = &t
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	env, err := h.svc.Update(c.Request().Context(), APIKey(c).Scope(), actorOf(c), c.Param("id"), p, envelope.Precondition(match))
	if err != nil {
		return envelopeError(c, err)
	}
	return h.respond(c, http.StatusOK, env)
}

type voidRequest struct {
	Reason string `json:"reason"`
}

// voidReason reads an optional {reason} body (or ?reason=) of DELETE/void.
func voidReason(c echo.Context) (string, error) {
	if r := c.QueryParam("reason"); r != "" {
		return r, nil
	}
	if c.Request().ContentLength == 0 && c.Request().Header.Get(echo.HeaderContentType) == "" {
		return "", nil
	}
	var req voidRequest
	bad, err := bindJSON(c, &req)
	if err != nil {
		return "", err
	}
	if len(bad) > 0 {
		return "", NewValidationProblem(bad)
	}
	return req.Reason, nil
}

func (h *envelopeHandlers) delete(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	reason, err := voidReason(c)
	if err != nil {
		return err
	}
	deleted, env, err := h.svc.Delete(c.Request().Context(), APIKey(c).Scope(), actorOf(c), c.Param("id"), reason, envelope.Precondition(match))
	if err != nil {
		return envelopeError(c, err)
	}
	if deleted {
		return c.NoContent(http.StatusNoContent)
	}
	return h.respond(c, http.StatusOK, env)
}

func (h *envelopeHandlers) void(c echo.Context) error {
	reason, err := voidReason(c)
	if err != nil {
		return err
	}
	env, err := h.svc.Void(c.Request().Context(), APIKey(c).Scope(), actorOf(c), c.Param("id"), reason)
	if err != nil {
		return envelopeError(c, err)
	}
	return h.respond(c, http.StatusOK, env)
}

func (h *envelopeHandlers) send(c echo.Context) error {
	env, err := h.svc.Send(c.Request().Context(), APIKey(c).Scope(), actorOf(c), c.Param("id"))
	if err != nil {
		return envelopeError(c, err)
	}
	return h.respond(c, http.StatusOK, env)
}

func (h *envelopeHandlers) remind(c echo.Context) error {
	env, _, err := h.svc.Remind(c.Request().Context(), APIKey(c).Scope(), actorOf(c), c.Param("id"))
	if err != nil {
		return envelopeError(c, err)
	}
	return h.respond(c, http.StatusOK, env)
}

func (h *envelopeHandlers) rotateLink(c echo.Context) error {
	env, err := h.svc.RotateLink(c.Request().Context(), APIKey(c).Scope(), actorOf(c), c.Param("id"), c.Param("recipientId"))
	if err != nil {
		return envelopeError(c, err)
	}
	return h.respond(c, http.StatusOK, env)
}

func (h *envelopeHandlers) unlock(c echo.Context) error {
	env, err := h.svc.Unlock(c.Request().Context(), APIKey(c).Scope(), actorOf(c), c.Param("id"), c.Param("recipientId"))
	if err != nil {
		return envelopeError(c, err)
	}
	return h.respond(c, http.StatusOK, env)
}

func (h *envelopeHandlers) signedDocument(c echo.Context) error {
	for name := range c.QueryParams() {
		if name != "documentId" {
			return NewValidationProblem([]InvalidParam{{Name: name, Reason: "unknown query parameter; known: documentId"}})
		}
	}
	d, err := h.svc.SignedDocument(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), c.QueryParam("documentId"))
	if err != nil {
		return envelopeError(c, err)
	}
	return streamDownload(c, d)
}

func (h *envelopeHandlers) auditTrail(c echo.Context) error {
	d, sealed, err := h.svc.AuditTrail(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return envelopeError(c, err)
	}
	c.Response().Header().Set("Audit-Trail-Sealed", strconv.FormatBool(sealed))
	return streamDownload(c, d)
}

// streamDownload sends a file without buffering it.
func streamDownload(c echo.Context, d *envelope.Download) error {
	defer d.Body.Close()
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, d.ContentType)
	if d.Size >= 0 {
		hd.Set(echo.HeaderContentLength, strconv.FormatInt(d.Size, 10))
	}
	hd.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
	hd.Set("X-Content-Type-Options", "nosniff")
	c.Response().WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.Response(), d.Body); err != nil {
		Logger(c.Request().Context()).Warn("download interrupted", "file", d.Filename, "err", err)
	}
	return nil
}

// eventResponse is one entry of an envelope's event log.
type eventResponse struct {
	ID             string               `json:"id"`
	Seq            int                  `json:"seq"`
	Type           string               `json:"type"`
	At             time.Time            `json:"at"`
	Actor          string               `json:"actor"`
	RecipientID    string               `json:"recipientId,omitempty"`
	IP             string               `json:"ip"`
	UserAgent      string               `json:"userAgent"`
	DocumentHashes []audit.DocumentHash `json:"documentHashes"`
	Details        map[string]string    `json:"details"`
	PrevHash       string               `json:"prevHash"`
	Hash           string               `json:"hash"`
}

func toEventResponse(e *audit.Event) eventResponse {
	return eventResponse{ID: e.ID, Seq: e.Seq, Type: e.Type, At: e.At.UTC(), Actor: e.Actor, RecipientID: e.RecipientID,
		IP: e.IP, UserAgent: e.UserAgent, DocumentHashes: e.DocumentHashes, Details: e.Details,
		PrevHash: e.PrevHash, Hash: e.Hash}
}

func (h *envelopeHandlers) events(c echo.Context) error {
	evs, err := h.svc.Events(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return err
	}
	out := ListResponse[eventResponse]{Limit: len(evs), Total: int64(len(evs)), Count: len(evs), Data: make([]eventResponse, 0, len(evs))}
	for i := range evs {
		out.Data = append(out.Data, toEventResponse(&evs[i]))
	}
	return c.JSON(http.StatusOK, out)
}
