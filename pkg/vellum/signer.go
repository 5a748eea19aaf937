package vellum

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SignerView is what a recipient sees through their signing link.
type SignerView struct {
	Envelope    SignerEnvelope   `json:"envelope"`
	Recipient   SignerRecipient  `json:"recipient"`
	Documents   []SignerDocument `json:"documents"`
	Fields      []Field          `json:"fields"`
	Session     SignerSession    `json:"session"`
	Redirects   Redirects        `json:"redirects"`
	RedirectURL string           `json:"redirectUrl,omitempty"`
}

// SignerEnvelope is the part of the envelope a signer sees.
type SignerEnvelope struct {
	ID           string         `json:"id"`
	Subject      string         `json:"subject"`
	Message      string         `json:"message"`
	SignText     string         `json:"signText"`
	Status       EnvelopeStatus `json:"status"`
	SigningOrder SigningOrder   `json:"signingOrder"`
	ExpiresAt    *time.Time     `json:"expiresAt"`
	Language     string         `json:"language"`
}

// SignerRecipient is the signer themself.
type SignerRecipient struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Email      string          `json:"email"`
	Role       Role            `json:"role"`
	Status     RecipientStatus `json:"status"`
	AuthMethod AuthMethod      `json:"authMethod"`
	// AuthProvider and Identity are an OIDC recipient's identity provider
	// and whom it vouched for (nil before the login).
	AuthProvider string            `json:"authProvider,omitempty"`
	Identity     *VerifiedIdentity `json:"identity"`
	Locale       string            `json:"locale"`
	SignedAt     *time.Time        `json:"signedAt"`
	DeclinedAt   *time.Time        `json:"declinedAt"`
}

// SignerDocument is a document the signer reads.
type SignerDocument struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Title    string `json:"title,omitempty"`
	Pages    int    `json:"pages"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
}

// SignerSession is the signing session behind the link.
type SignerSession struct {
	Status       string     `json:"status"`
	ExpiresAt    time.Time  `json:"expiresAt"`
	CanSign      bool       `json:"canSign"`
	CanDecline   bool       `json:"canDecline"`
	OTPExpiresAt *time.Time `json:"otpExpiresAt"`
}

// SignRequest consents and signs. Consent must be true; approvers need no
// Signature.
type SignRequest struct {
	Consent   bool       `json:"consent"`
	Signature *Signature `json:"signature,omitempty"`
	// OTP is the e-mailed code of an EMAIL_OTP recipient.
	OTP string `json:"otp,omitempty"`
	// AccessCode is an ACCESS_CODE recipient's code.
	AccessCode string `json:"accessCode,omitempty"`
	// Values are the recipient's TEXT, CHECKBOX and DATE field values by
	// field id (string or bool).
	Values map[string]any `json:"values,omitempty"`
}

// Signature is a typed ({Type: "typed", Text}) or drawn ({Type: "drawn",
// Image: "data:image/png;base64,…"}) signature.
type Signature struct {
	Type  string `json:"type"`
	Text  string `json:"text,omitempty"`
	Image string `json:"image,omitempty"`
}

// TypedSignature is a signature written as text.
func TypedSignature(text string) *Signature { return &Signature{Type: "typed", Text: text} }

// DeclineRequest gives the reason for declining.
type DeclineRequest struct {
	Reason string `json:"reason"`
}

// SignerService is the signer API behind a signUrl: the token is the
// credential and no API key is sent.
type SignerService struct{ c *Client }

// TokenFromSignURL returns the token of a recipient's signUrl
// (<public URL>/s/<token>).
func TokenFromSignURL(signURL string) (string, error) {
	u, err := url.Parse(signURL)
	if err != nil {
		return "", err
	}
	i := strings.LastIndex(u.Path, "/s/")
	if i < 0 || u.Path[i+3:] == "" || strings.Contains(u.Path[i+3:], "/") {
		return "", errors.New("vellum: not a signUrl: " + signURL)
	}
	return u.Path[i+3:], nil
}

func (s *SignerService) view(ctx context.Context, method, path string, in any) (*SignerView, error) {
	var v SignerView
	// The signer API takes no API key: the token is the only credential.
	r := &request{method: method, path: path, anonymous: true}
	if in != nil {
		body, err := jsonBody(in)
		if err != nil {
			return nil, err
		}
		r.body, r.contentType = body, "application/json"
	}
	if err := s.c.call(ctx, r, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Get opens the link (recorded once as recipient.viewed) and returns what
// the signer sees.
func (s *SignerService) Get(ctx context.Context, token string) (*SignerView, error) {
	return s.view(ctx, http.MethodGet, pathf("/api/v1/signer/%s", token), nil)
}

// RequestOTP e-mails an EMAIL_OTP recipient a one-time code.
func (s *SignerService) RequestOTP(ctx context.Context, token string) (*SignerView, error) {
	return s.view(ctx, http.MethodPost, pathf("/api/v1/signer/%s/otp", token), nil)
}

// Sign consents and signs; the worker then applies the PAdES signature.
func (s *SignerService) Sign(ctx context.Context, token string, r *SignRequest) (*SignerView, error) {
	return s.view(ctx, http.MethodPost, pathf("/api/v1/signer/%s/sign", token), r)
}

// Decline declines, which ends the envelope (DECLINED).
func (s *SignerService) Decline(ctx context.Context, token, reason string) (*SignerView, error) {
	return s.view(ctx, http.MethodPost, pathf("/api/v1/signer/%s/decline", token), &DeclineRequest{Reason: reason})
}

// DownloadDocument streams one of the envelope's documents as the signer
// sees it (the final one once the envelope is COMPLETED).
func (s *SignerService) DownloadDocument(ctx context.Context, token, documentID string) (*Download, error) {
	return s.c.download(ctx, &request{method: http.MethodGet, anonymous: true,
		path: pathf("/api/v1/signer/%s/documents/%s", token, documentID)})
}
