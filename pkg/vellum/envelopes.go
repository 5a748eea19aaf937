package vellum

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// EnvelopeStatus is an envelope's state: DRAFT → SENT → COMPLETED |
// DECLINED | VOIDED | EXPIRED.
type EnvelopeStatus string

// The envelope states.
const (
	EnvelopeDraft     EnvelopeStatus = "DRAFT"
	EnvelopeSent      EnvelopeStatus = "SENT"
	EnvelopeCompleted EnvelopeStatus = "COMPLETED"
	EnvelopeDeclined  EnvelopeStatus = "DECLINED"
	EnvelopeVoided    EnvelopeStatus = "VOIDED"
	EnvelopeExpired   EnvelopeStatus = "EXPIRED"
)

// Final reports whether no further transition can happen.
func (s EnvelopeStatus) Final() bool {
	return s != EnvelopeDraft && s != EnvelopeSent && s != ""
}

// Role is what a recipient does with an envelope.
type Role string

// The recipient roles.
const (
	RoleSigner   Role = "SIGNER"
	RoleApprover Role = "APPROVER"
	RoleCC       Role = "CC"
	RoleViewer   Role = "VIEWER"
)

// SigningOrder is PARALLEL (everyone at once) or SEQUENTIAL (by order).
type SigningOrder string

// The signing orders.
const (
	Parallel   SigningOrder = "PARALLEL"
	Sequential SigningOrder = "SEQUENTIAL"
)

// FieldType is the kind of a field placed on a page.
type FieldType string

// The field types.
const (
	FieldSignature FieldType = "SIGNATURE"
	FieldInitials  FieldType = "INITIALS"
	FieldDate      FieldType = "DATE"
	FieldText      FieldType = "TEXT"
	FieldCheckbox  FieldType = "CHECKBOX"
)

// AuthMethod is how a signer proves who they are before signing.
type AuthMethod string

// The signer authentication methods.
const (
	AuthNone       AuthMethod = "NONE"
	AuthEmailOTP   AuthMethod = "EMAIL_OTP"
	AuthAccessCode AuthMethod = "ACCESS_CODE"
	// AuthOIDC: the signer logs in with an identity provider the operator
	// configured (RecipientAuthRequest.Provider) in the signing page.
	AuthOIDC AuthMethod = "OIDC"
)

// RecipientStatus is where a recipient stands.
type RecipientStatus string

// Envelope is an envelope as the API returns it.
type Envelope struct {
	ID                     string             `json:"id"`
	Status                 EnvelopeStatus     `json:"status"`
	Subject                string             `json:"subject"`
	Message                string             `json:"message"`
	SigningOrder           SigningOrder       `json:"signingOrder"`
	Documents              []EnvelopeDocument `json:"documents"`
	Recipients             []Recipient        `json:"recipients"`
	CreatedAt              time.Time          `json:"createdAt"`
	UpdatedAt              time.Time          `json:"updatedAt"`
	SentAt                 *time.Time         `json:"sentAt"`
	CompletedAt            *time.Time         `json:"completedAt"`
	DeclinedAt             *time.Time         `json:"declinedAt"`
	VoidedAt               *time.Time         `json:"voidedAt"`
	ExpiredAt              *time.Time         `json:"expiredAt"`
	ExpiresAt              *time.Time         `json:"expiresAt"`
	VoidReason             string             `json:"voidReason,omitempty"`
	ReminderIntervalHours  int                `json:"reminderIntervalHours"`
	Redirects              Redirects          `json:"redirects"`
	ExternalReference      string             `json:"externalReference"`
	Metadata               map[string]string  `json:"metadata"`
	SignText               string             `json:"signText"`
	SignatureURLTimeToLive string             `json:"signatureUrlTimeToLive,omitempty"`
	// Language is the envelope's BCP 47 language ("" when unset).
	Language string `json:"language"`
	// ETag is the response's ETag header, for [WithIfMatch].
	ETag string `json:"-"`
}

// EnvelopeDocument is one of an envelope's documents and its current
// revision's hash.
type EnvelopeDocument struct {
	ID             string `json:"id"`
	Filename       string `json:"filename"`
	Title          string `json:"title,omitempty"`
	Pages          int    `json:"pages"`
	OriginalSHA256 string `json:"originalSha256"`
	SHA256         string `json:"sha256"`
	Size           int64  `json:"size"`
}

// Recipient is one recipient of an envelope. SignURL is set while the
// recipient can act.
type Recipient struct {
	ID     string          `json:"id"`
	Email  string          `json:"email"`
	Name   string          `json:"name"`
	Role   Role            `json:"role"`
	Order  int             `json:"order"`
	Status RecipientStatus `json:"status"`
	Auth   RecipientAuth   `json:"auth"`
	// Locale is the recipient's BCP 47 language ("" when unset).
	Locale        string     `json:"locale"`
	SignURL       string     `json:"signUrl,omitempty"`
	NotifiedAt    *time.Time `json:"notifiedAt"`
	ViewedAt      *time.Time `json:"viewedAt"`
	SignedAt      *time.Time `json:"signedAt"`
	DeclinedAt    *time.Time `json:"declinedAt"`
	DeclineReason string     `json:"declineReason,omitempty"`
	// Identity is whom an OIDC recipient's identity provider vouched for.
	Identity *VerifiedIdentity `json:"identity,omitempty"`
	Fields   []Field           `json:"fields"`
}

// RecipientAuth is a recipient's authentication method, and an OIDC
// recipient's identity provider and national identification number.
type RecipientAuth struct {
	Method                       AuthMethod `json:"method"`
	Provider                     string     `json:"provider,omitempty"`
	NationalIdentificationNumber string     `json:"nationalIdentificationNumber,omitempty"`
}

// VerifiedIdentity is whom an identity provider vouched for at the
// recipient's last login.
type VerifiedIdentity struct {
	Provider                     string    `json:"provider"`
	Subject                      string    `json:"subject"`
	Name                         string    `json:"name,omitempty"`
	NationalIdentificationNumber string    `json:"nationalIdentificationNumber,omitempty"`
	VerifiedAt                   time.Time `json:"verifiedAt"`
}

// Field is a field placed on a page, in PDF points from the lower-left corner.
type Field struct {
	ID         string    `json:"id"`
	DocumentID string    `json:"documentId"`
	Type       FieldType `json:"type"`
	Page       int       `json:"page"`
	X          float64   `json:"x"`
	Y          float64   `json:"y"`
	Width      float64   `json:"width"`
	Height     float64   `json:"height"`
	Required   bool      `json:"required"`
	Value      string    `json:"value,omitempty"`
	// FieldName is the document's signature form field it fills;
	// AnchorString the text it was placed at.
	FieldName    string `json:"fieldName,omitempty"`
	AnchorString string `json:"anchorString,omitempty"`
}

// Redirects are where the signing page sends the signer afterwards.
type Redirects struct {
	Success string `json:"success,omitempty"`
	Cancel  string `json:"cancel,omitempty"`
	Error   string `json:"error,omitempty"`
}

// EnvelopeRequest creates an envelope (Subject, DocumentIDs and Recipients
// required) or changes a DRAFT (any subset; what is given replaces).
type EnvelopeRequest struct {
	Subject               string             `json:"subject,omitempty"`
	Message               string             `json:"message,omitempty"`
	DocumentIDs           []string           `json:"documentIds,omitempty"`
	Recipients            []RecipientRequest `json:"recipients,omitempty"`
	SigningOrder          SigningOrder       `json:"signingOrder,omitempty"`
	ExpiresAt             *time.Time         `json:"expiresAt,omitempty"`
	ReminderIntervalHours *int               `json:"reminderIntervalHours,omitempty"`
	Redirects             *Redirects         `json:"redirects,omitempty"`
	ExternalReference     string             `json:"externalReference,omitempty"`
	Metadata              map[string]string  `json:"metadata,omitempty"`
	// SignText is the consent text the signer accepts.
	SignText string `json:"signText,omitempty"`
	// SignatureURLTimeToLive is an ISO 8601 duration (PT5M … P45D).
	SignatureURLTimeToLive string `json:"signatureUrlTimeToLive,omitempty"`
	// Language is the BCP 47 language of the signing page and e-mails
	// (en, fr, cs, nb, kk, ru); unset, each browser's Accept-Language.
	Language string `json:"language,omitempty"`
}

// RecipientRequest is a recipient to add; Role defaults to SIGNER and
// Order to 1.
type RecipientRequest struct {
	Email string                `json:"email"`
	Name  string                `json:"name"`
	Role  Role                  `json:"role,omitempty"`
	Order int                   `json:"order,omitempty"`
	Auth  *RecipientAuthRequest `json:"auth,omitempty"`
	// Locale is this recipient's BCP 47 language, over the envelope's.
	Locale string         `json:"locale,omitempty"`
	Fields []FieldRequest `json:"fields,omitempty"`
}

// RecipientAuthRequest asks a signer to authenticate before signing.
type RecipientAuthRequest struct {
	Method     AuthMethod `json:"method,omitempty"`
	AccessCode string     `json:"accessCode,omitempty"`
	// Provider (required with AuthOIDC) names the identity provider;
	// NationalIdentificationNumber, when set, is the one it must vouch for.
	Provider                     string `json:"provider,omitempty"`
	NationalIdentificationNumber string `json:"nationalIdentificationNumber,omitempty"`
}

// FieldRequest places a field for a recipient. Required defaults to true.
type FieldRequest struct {
	DocumentID string    `json:"documentId"`
	Type       FieldType `json:"type"`
	Page       int       `json:"page"`
	X          float64   `json:"x"`
	Y          float64   `json:"y"`
	Width      float64   `json:"width"`
	Height     float64   `json:"height"`
	Required   *bool     `json:"required,omitempty"`
	// FieldName places a SIGNATURE field in the document's own empty
	// signature form field of that name (no coordinates needed).
	FieldName string `json:"fieldName,omitempty"`
	// AnchorString places the field at every occurrence of the text: its
	// top-left corner at the text's, moved by the offsets (x right, y
	// down) in AnchorUnits: "points" (default), "pixels", "mms", "inches".
	AnchorString             string  `json:"anchorString,omitempty"`
	AnchorXOffset            float64 `json:"anchorXOffset,omitempty"`
	AnchorYOffset            float64 `json:"anchorYOffset,omitempty"`
	AnchorUnits              string  `json:"anchorUnits,omitempty"`
	AnchorIgnoreIfNotPresent bool    `json:"anchorIgnoreIfNotPresent,omitempty"`
}

// MarshalJSON leaves out the coordinates a field placed by FieldName or
// AnchorString does not set, rather than sending them as zeros.
func (f FieldRequest) MarshalJSON() ([]byte, error) {
	type plain FieldRequest
	if f.FieldName == "" && f.AnchorString == "" {
		return json.Marshal(plain(f))
	}
	// The outer fields shadow the embedded ones of the same JSON name.
	return json.Marshal(struct {
		plain
		Page   int     `json:"page,omitempty"`
		X      float64 `json:"x,omitempty"`
		Y      float64 `json:"y,omitempty"`
		Width  float64 `json:"width,omitempty"`
		Height float64 `json:"height,omitempty"`
	}{plain(f), f.Page, f.X, f.Y, f.Width, f.Height})
}

// EnvelopeEvent is one entry of an envelope's hash-chained event log.
type EnvelopeEvent struct {
	ID             string            `json:"id"`
	Seq            int               `json:"seq"`
	Type           string            `json:"type"`
	At             time.Time         `json:"at"`
	Actor          string            `json:"actor"`
	RecipientID    string            `json:"recipientId,omitempty"`
	IP             string            `json:"ip"`
	UserAgent      string            `json:"userAgent"`
	DocumentHashes []DocumentHash    `json:"documentHashes"`
	Details        map[string]string `json:"details"`
	PrevHash       string            `json:"prevHash"`
	Hash           string            `json:"hash"`
}

// DocumentHash is a document's SHA-256 at the time of an event.
type DocumentHash struct {
	DocumentID string `json:"documentId"`
	SHA256     string `json:"sha256"`
}

// VoidRequest gives a reason for voiding.
type VoidRequest struct {
	Reason string `json:"reason,omitempty"`
}

// EnvelopeListParams filter an envelope listing.
type EnvelopeListParams struct {
	ListParams
	// Status keeps envelopes in any of these states.
	Status []EnvelopeStatus
	// SubjectLike keeps envelopes whose subject contains it (any case).
	SubjectLike string
	// ExternalReference keeps envelopes with exactly this reference.
	ExternalReference string
}

// EnvelopeService is the /api/v1/envelopes resource.
type EnvelopeService struct{ c *Client }

func (s *EnvelopeService) one(ctx context.Context, method, path string, in any) (*Envelope, error) {
	var e Envelope
	if err := s.c.sendJSON(ctx, method, path, in, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Create creates a DRAFT envelope.
func (s *EnvelopeService) Create(ctx context.Context, r *EnvelopeRequest) (*Envelope, error) {
	return s.one(ctx, http.MethodPost, "/api/v1/envelopes", r)
}

// Get fetches an envelope.
func (s *EnvelopeService) Get(ctx context.Context, id string) (*Envelope, error) {
	return s.one(ctx, http.MethodGet, pathf("/api/v1/envelopes/%s", id), nil)
}

// Update changes a DRAFT envelope; any other state is a 409 *Error with
// CurrentState set.
func (s *EnvelopeService) Update(ctx context.Context, id string, r *EnvelopeRequest) (*Envelope, error) {
	return s.one(ctx, http.MethodPatch, pathf("/api/v1/envelopes/%s", id), r)
}

// Delete deletes a DRAFT envelope.
func (s *EnvelopeService) Delete(ctx context.Context, id string) error {
	return s.c.sendJSON(ctx, http.MethodDelete, pathf("/api/v1/envelopes/%s", id), nil, nil)
}

// Send moves a DRAFT to SENT: signing sessions are created and the first
// routing group is invited.
func (s *EnvelopeService) Send(ctx context.Context, id string) (*Envelope, error) {
	return s.one(ctx, http.MethodPost, pathf("/api/v1/envelopes/%s/send", id), nil)
}

// Void ends a SENT envelope.
func (s *EnvelopeService) Void(ctx context.Context, id, reason string) (*Envelope, error) {
	return s.one(ctx, http.MethodPost, pathf("/api/v1/envelopes/%s/void", id), &VoidRequest{Reason: reason})
}

// RotateRecipientLink replaces a recipient's signing link, for a link that
// leaked: the old token stops working at once and, when it is the
// recipient's turn, the invitation goes out again with the new one.
func (s *EnvelopeService) RotateRecipientLink(ctx context.Context, envelopeID, recipientID string) (*Envelope, error) {
	return s.one(ctx, http.MethodPost, pathf("/api/v1/envelopes/%s/recipients/%s/rotate-link", envelopeID, recipientID), nil)
}

// UnlockRecipient lifts a recipient's access-code lockout at once; the
// link stays the same.
func (s *EnvelopeService) UnlockRecipient(ctx context.Context, envelopeID, recipientID string) (*Envelope, error) {
	return s.one(ctx, http.MethodPost, pathf("/api/v1/envelopes/%s/recipients/%s/unlock", envelopeID, recipientID), nil)
}

// Remind re-invites the signers whose turn has come and who have not
// finished, extending their links.
func (s *EnvelopeService) Remind(ctx context.Context, id string) (*Envelope, error) {
	return s.one(ctx, http.MethodPost, pathf("/api/v1/envelopes/%s/remind", id), nil)
}

// List walks the caller's envelopes.
func (s *EnvelopeService) List(ctx context.Context, p *EnvelopeListParams) iter.Seq2[Envelope, error] {
	var q url.Values
	if p == nil {
		q = (*ListParams)(nil).values()
	} else {
		q = p.values()
		for _, st := range p.Status {
			q.Add("status", string(st))
		}
		if p.SubjectLike != "" {
			q.Set("subjectLike", p.SubjectLike)
		}
		if p.ExternalReference != "" {
			q.Set("externalReference", p.ExternalReference)
		}
	}
	return list[Envelope](ctx, s.c, "/api/v1/envelopes", q)
}

// Events returns the envelope's whole event log, oldest first.
func (s *EnvelopeService) Events(ctx context.Context, id string) ([]EnvelopeEvent, error) {
	var p page[EnvelopeEvent]
	if err := s.c.getJSON(ctx, pathf("/api/v1/envelopes/%s/events", id), nil, &p); err != nil {
		return nil, err
	}
	return p.Data, nil
}

// DownloadSigned streams a COMPLETED envelope's signed PDF (PAdES B-LTA),
// or a zip of all of them when the envelope has several documents and
// documentID is empty.
func (s *EnvelopeService) DownloadSigned(ctx context.Context, id, documentID string) (*Download, error) {
	var q url.Values
	if documentID != "" {
		q = url.Values{"documentId": {documentID}}
	}
	return s.c.download(ctx, &request{method: http.MethodGet, path: pathf("/api/v1/envelopes/%s/signed-document", id), query: q})
}

// DownloadAuditTrail streams the audit-trail PDF, sealed once the envelope
// is final.
func (s *EnvelopeService) DownloadAuditTrail(ctx context.Context, id string) (*Download, error) {
	return s.c.download(ctx, &request{method: http.MethodGet, path: pathf("/api/v1/envelopes/%s/audit-trail", id)})
}

func (v *Envelope) setETag(etag string) { v.ETag = etag }
