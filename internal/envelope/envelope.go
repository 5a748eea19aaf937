// Package envelope is the envelope workflow: envelopes with ordered
// documents, recipients and fields; the state machine DRAFT → SENT →
// COMPLETED | DECLINED | VOIDED | EXPIRED; signing sessions behind signUrl
// tokens; and the background work each state change implies (applying
// PAdES signatures, routing, finalising to B-LTA with a sealed audit trail,
// e-mail, expiry and reminders), committed through the transactional outbox
// in the same transaction as the change. Every query is scoped by account
// and environment.
package envelope

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/idp"
	"github.com/vellum-sign/vellum/internal/validation"
)

// Status is an envelope's state.
type Status string

// Envelope states. Only DRAFT is editable; COMPLETED, DECLINED, VOIDED and
// EXPIRED are final.
const (
	StatusDraft     Status = "DRAFT"
	StatusSent      Status = "SENT"
	StatusCompleted Status = "COMPLETED"
	StatusDeclined  Status = "DECLINED"
	StatusVoided    Status = "VOIDED"
	StatusExpired   Status = "EXPIRED"
)

// Final reports whether no further transition is possible.
func (s Status) Final() bool {
	return s == StatusCompleted || s == StatusDeclined || s == StatusVoided || s == StatusExpired
}

// SigningOrder says how recipients are routed.
type SigningOrder string

// Routing modes: PARALLEL invites everyone at once; SEQUENTIAL routes by
// recipient order, equal orders in parallel.
const (
	Parallel   SigningOrder = "PARALLEL"
	Sequential SigningOrder = "SEQUENTIAL"
)

// Role is what a recipient does.
type Role string

// Recipient roles. Signers sign (a PAdES signature each); approvers approve
// without a cryptographic signature; both must act for completion. Viewers
// receive a view link at their turn; CCs receive the result.
const (
	RoleSigner   Role = "SIGNER"
	RoleApprover Role = "APPROVER"
	RoleCC       Role = "CC"
	RoleViewer   Role = "VIEWER"
)

// Acts reports whether the role must sign or approve for completion.
func (r Role) Acts() bool { return r == RoleSigner || r == RoleApprover }

// AuthMethod is how a recipient proves who they are before signing.
type AuthMethod string

// Authentication methods.
const (
	AuthNone       AuthMethod = "NONE"
	AuthEmailOTP   AuthMethod = "EMAIL_OTP"
	AuthAccessCode AuthMethod = "ACCESS_CODE"
	// AuthOIDC logs the recipient in with an operator-configured OpenID
	// Connect provider (Recipient.AuthProvider) before they may sign.
	AuthOIDC AuthMethod = "OIDC"
)

// RecipientStatus is a recipient's progress. It follows their signing
// session's state once they have one; before their turn it is PENDING, and
// a CC's is COMPLETED once the result has gone out.
type RecipientStatus string

// Recipient states.
const (
	RecipientPending   RecipientStatus = "PENDING"
	RecipientCreated   RecipientStatus = "CREATED"
	RecipientNotified  RecipientStatus = "NOTIFIED"
	RecipientOpened    RecipientStatus = "OPENED"
	RecipientSigned    RecipientStatus = "SIGNED"
	RecipientDeclined  RecipientStatus = "DECLINED"
	RecipientExpired   RecipientStatus = "EXPIRED"
	RecipientCompleted RecipientStatus = "COMPLETED"
)

// SessionStatus is a signing session's state: CREATED → NOTIFIED → OPENED →
// SIGNED | DECLINED | EXPIRED.
type SessionStatus string

// Session states.
const (
	SessionCreated  SessionStatus = "CREATED"
	SessionNotified SessionStatus = "NOTIFIED"
	SessionOpened   SessionStatus = "OPENED"
	SessionSigned   SessionStatus = "SIGNED"
	SessionDeclined SessionStatus = "DECLINED"
	SessionExpired  SessionStatus = "EXPIRED"
)

// open reports whether the session can still be acted on.
func (s SessionStatus) open() bool {
	return s == SessionCreated || s == SessionNotified || s == SessionOpened
}

// FieldType is the kind of a field placed on a document.
type FieldType string

// Field types.
const (
	FieldSignature FieldType = "SIGNATURE"
	FieldInitials  FieldType = "INITIALS"
	FieldDate      FieldType = "DATE"
	FieldText      FieldType = "TEXT"
	FieldCheckbox  FieldType = "CHECKBOX"
)

// Errors. The HTTP layer maps each kind to a status in one place.
var (
	ErrNotFound = errors.New("envelope not found")
	// ErrInvalid wraps validation failures (see ValidationError).
	ErrInvalid = validation.ErrInvalid
	// ErrState is an illegal transition; see StateError for the state.
	ErrState = errors.New("illegal envelope transition")
	// ErrVersionMismatch means an If-Match precondition failed.
	ErrVersionMismatch = errors.New("envelope has changed")
	// ErrNotAvailable means a download is not available in this state.
	ErrNotAvailable = errors.New("not available in the envelope's current state")

	// ErrTokenUnknown means no session has this token (404).
	ErrTokenUnknown = errors.New("unknown signing link")
	// ErrTokenGone means the session expired or the envelope ended (410).
	ErrTokenGone = errors.New("signing link is no longer valid")
	// ErrTokenUsed means the recipient already signed or declined (409).
	ErrTokenUsed = errors.New("recipient has already finished")

	// The specific reasons behind ErrTokenUsed and ErrTokenGone, so a signing
	// page or an embedded integration can say what happened without reading
	// prose. Each wraps its general error.
	ErrAlreadySigned     = fmt.Errorf("%w: the recipient signed", ErrTokenUsed)
	ErrAlreadyDeclined   = fmt.Errorf("%w: the recipient declined", ErrTokenUsed)
	ErrEnvelopeCompleted = fmt.Errorf("%w: the envelope is COMPLETED", ErrTokenGone)
	ErrEnvelopeDeclined  = fmt.Errorf("%w: the envelope is DECLINED", ErrTokenGone)
	ErrEnvelopeVoided    = fmt.Errorf("%w: the envelope is VOIDED", ErrTokenGone)
	ErrEnvelopeExpired   = fmt.Errorf("%w: the envelope is EXPIRED", ErrTokenGone)
	ErrLinkExpired       = fmt.Errorf("%w: the link expired", ErrTokenGone)
	// ErrNotYourTurn means a sequential recipient acts before their turn (409).
	ErrNotYourTurn = errors.New("it is not this recipient's turn yet")
	// ErrAuthRequired means the OTP or access code is missing or wrong (403).
	ErrAuthRequired = errors.New("signer authentication failed")
	// ErrOTPLocked means too many wrong codes; request a new one (429).
	ErrOTPLocked = errors.New("too many wrong one-time codes")
	// ErrCannotSign means the recipient's role cannot sign (a viewer or CC).
	ErrCannotSign = errors.New("this recipient cannot sign")
	// ErrRecipientNotFound means the envelope has no such recipient (404).
	ErrRecipientNotFound = errors.New("the envelope has no such recipient")
	// ErrNoSigningLink means the recipient has no signing link to rotate or
	// unlock: a CC recipient (409).
	ErrNoSigningLink = errors.New("this recipient has no signing link")
)

// LockedError is an access-code lockout: too many wrong codes, no further
// attempt until Until (or until the sender unlocks the recipient).
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s: too many wrong access codes; try again after %s, or ask the sender to unlock the link",
		ErrOTPLocked, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes LockedError match ErrOTPLocked.
func (e *LockedError) Unwrap() error { return ErrOTPLocked }

// StateError is an illegal transition carrying the envelope's current state.
type StateError struct {
	Op      string
	Current Status
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s an envelope that is %s", e.Op, e.Current)
}

// Unwrap makes StateError match ErrState.
func (e *StateError) Unwrap() error { return ErrState }

func stateErr(op string, current Status) error { return &StateError{Op: op, Current: current} }

// FieldError names one invalid input and why.
type FieldError = validation.FieldError

// ValidationError lists every invalid input of a request at once.
type ValidationError = validation.Errors

// Redirects are where the signing page sends the signer afterwards.
type Redirects struct {
	Success string `json:"success,omitempty"`
	Cancel  string `json:"cancel,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Envelope is the envelopes row.
type Envelope struct {
	ID           string `gorm:"primaryKey"`
	AccountID    string
	Environment  account.Environment
	Status       Status
	Subject      string
	Message      string
	SigningOrder SigningOrder
	SignText     string
	// Language is the BCP 47 tag the envelope speaks to its recipients
	// in; empty lets each recipient's browser choose.
	Language              string
	ExternalReference     string
	Metadata              map[string]string `gorm:"serializer:json"`
	Redirects             Redirects         `gorm:"serializer:json"`
	ExpiresAt             *time.Time
	ReminderIntervalHours int
	URLTTL                string `gorm:"column:url_ttl"`
	URLTTLSeconds         int64  `gorm:"column:url_ttl_seconds"`
	// CurrentOrder is the routing order whose turn it is (SEQUENTIAL).
	CurrentOrder   int
	VoidReason     string
	AuditTrailKey  string
	PackageKey     string
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	SentAt         *time.Time
	CompletedAt    *time.Time
	DeclinedAt     *time.Time
	VoidedAt       *time.Time
	ExpiredAt      *time.Time
	LastReminderAt *time.Time

	Documents  []Document  `gorm:"-"`
	Recipients []Recipient `gorm:"-"`
	Fields     []Field     `gorm:"-"`
	Sessions   []Session   `gorm:"-"`
}

// TableName maps Envelope to its table.
func (Envelope) TableName() string { return "envelopes" }

// Scope is the envelope's tenant.
func (e *Envelope) Scope() account.Scope {
	return account.Scope{AccountID: e.AccountID, Environment: e.Environment}
}

// Document is one document of an envelope with its current revision.
type Document struct {
	EnvelopeID      string `gorm:"primaryKey"`
	DocumentID      string `gorm:"primaryKey"`
	Position        int
	Filename        string
	Title           string
	Pages           int
	OriginalSHA256  string `gorm:"column:original_sha256"`
	OriginalSize    int64
	OriginalBlobKey string
	CurrentBlobKey  string
	CurrentSHA256   string `gorm:"column:current_sha256"`
	CurrentSize     int64
	// Revision counts the signed revisions appended by Vellum; it is the
	// compare-and-swap guard of signature application.
	Revision int
}

// TableName maps Document to its table.
func (Document) TableName() string { return "envelope_documents" }

// Recipient is one recipient of an envelope.
type Recipient struct {
	ID           string `gorm:"primaryKey"`
	EnvelopeID   string
	Position     int
	Email        string
	Name         string
	Role         Role
	RoutingOrder int
	AuthMethod   AuthMethod
	// Locale is the recipient's BCP 47 language, over the envelope's.
	Locale         string
	AccessCodeHash string
	// AuthProvider names the identity provider of an OIDC recipient;
	// NationalID, when set, is the national identification number its ID
	// token must carry.
	AuthProvider string
	NationalID   string `gorm:"column:national_id"`
	// Identity is whom the provider vouched for at the recipient's last
	// login, and IdentifiedAt when; it goes into the audit trail and the
	// signer's certificate.
	Identity       *idp.Identity `gorm:"serializer:json"`
	IdentifiedAt   *time.Time
	Status         RecipientStatus
	NotifiedAt     *time.Time
	ViewedAt       *time.Time
	SignedAt       *time.Time
	DeclinedAt     *time.Time
	DeclineReason  string
	IP             string
	UserAgent      string
	SignatureType  string
	SignatureText  string
	SignatureImage []byte
	// AppliedAt is when the worker applied the signature (or recorded the
	// approval) to the documents.
	AppliedAt         *time.Time
	CertificateSerial string
	RemindersSent     int
}

// DefaultSignText is the consent a signer gives when the envelope sets no
// signText of its own, in English; ConsentText gives it in the envelope's
// language. The signing page shows it and the audit trail records it.
var DefaultSignText = i18n.For(i18n.English).T("consent.default")

// ConsentText is the consent text signers of e accept.
func (e *Envelope) ConsentText() string {
	if t := strings.TrimSpace(e.SignText); t != "" {
		return t
	}
	return i18n.For(i18n.Negotiate("", e.Language)).T("consent.default")
}

// TableName maps Recipient to its table.
func (Recipient) TableName() string { return "envelope_recipients" }

// Field is a box on a page assigned to a recipient, in PDF points from the
// lower-left corner.
type Field struct {
	ID          string `gorm:"primaryKey"`
	EnvelopeID  string
	RecipientID string
	DocumentID  string
	Position    int
	Type        FieldType
	Page        int
	X, Y        float64
	Width       float64
	Height      float64
	Required    bool
	Value       string
	// FieldName is the document's signature form field the signature goes
	// into; AnchorString the text the field was placed at. Either may be
	// empty.
	FieldName    string
	AnchorString string
}

// TableName maps Field to its table.
func (Field) TableName() string { return "envelope_fields" }

// Session is a signing session.
type Session struct {
	ID           string `gorm:"primaryKey"`
	EnvelopeID   string
	RecipientID  string
	TokenHash    string
	Status       SessionStatus
	ExpiresAt    time.Time
	CreatedAt    time.Time
	NotifiedAt   *time.Time
	OpenedAt     *time.Time
	FinishedAt   *time.Time
	OTPNonce     string     `gorm:"column:otp_nonce"`
	OTPExpiresAt *time.Time `gorm:"column:otp_expires_at"`
	OTPAttempts  int        `gorm:"column:otp_attempts"`
	OTPSent      int        `gorm:"column:otp_sent"`
	// TokenGeneration counts the link's replacements: the token is derived
	// from the session id and it, so a rotation voids the previous link.
	TokenGeneration int
	// AuthLockedUntil is the end of an access-code lockout; AuthLockouts
	// counts lockouts, each twice as long as the one before.
	AuthLockedUntil *time.Time
	AuthLockouts    int
	// OIDCStateHash finds the session of an identity-provider login in
	// progress; OIDCBindingHash is the hash of the cookie set in the browser
	// that started it, which the callback and the signature must present.
	OIDCStateHash   string     `gorm:"column:oidc_state_hash"`
	OIDCBindingHash string     `gorm:"column:oidc_binding_hash"`
	OIDCStartedAt   *time.Time `gorm:"column:oidc_started_at"`
}

// TableName maps Session to its table.
func (Session) TableName() string { return "signing_sessions" }

// recipient returns the recipient with id, or nil.
func (e *Envelope) recipient(id string) *Recipient {
	for i := range e.Recipients {
		if e.Recipients[i].ID == id {
			return &e.Recipients[i]
		}
	}
	return nil
}

// session returns the recipient's session, or nil.
func (e *Envelope) session(recipientID string) *Session {
	for i := range e.Sessions {
		if e.Sessions[i].RecipientID == recipientID {
			return &e.Sessions[i]
		}
	}
	return nil
}

// fieldsOf returns the recipient's fields.
func (e *Envelope) fieldsOf(recipientID string) []Field {
	var out []Field
	for _, f := range e.Fields {
		if f.RecipientID == recipientID {
			out = append(out, f)
		}
	}
	return out
}
