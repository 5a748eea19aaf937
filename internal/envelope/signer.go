package envelope

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/jobs"

	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// One-time code rules (issue 5): six digits, ten minutes, five attempts.
const (
	OTPLifetime    = 10 * time.Minute
	OTPMaxAttempts = 5
	// OTPMaxSends bounds codes mailed per session, against mail bombing.
	OTPMaxSends = 10
	// MaxSignatureImage bounds a drawn signature PNG.
	MaxSignatureImage = 512 << 10
	MaxSignatureText  = 255
	MaxDeclineReason  = 1000
	MaxFieldValue     = 1000
)

// SignerView is what a recipient sees through their token: the JSON of
// GET /api/v1/signer/{token}.
type SignerView struct {
	Envelope  SignerEnvelope   `json:"envelope"`
	Recipient SignerRecipient  `json:"recipient"`
	Documents []SignerDocument `json:"documents"`
	Fields    []FieldView      `json:"fields"`
	Session   SignerSession    `json:"session"`
	Redirects Redirects        `json:"redirects"`
	// RedirectURL is where to send the signer after this call, if the
	// integrator configured one.
	RedirectURL string `json:"redirectUrl,omitempty"`
}

// SignerEnvelope is the envelope as a signer sees it.
type SignerEnvelope struct {
	ID           string       `json:"id"`
	Subject      string       `json:"subject"`
	Message      string       `json:"message"`
	SignText     string       `json:"signText"`
	Status       Status       `json:"status"`
	SigningOrder SigningOrder `json:"signingOrder"`
	ExpiresAt    *time.Time   `json:"expiresAt"`
	// Language is the envelope's BCP 47 language ("" when unset).
	Language string `json:"language"`
}

// SignerRecipient is the signer themself.
type SignerRecipient struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Email      string          `json:"email"`
	Role       Role            `json:"role"`
	Status     RecipientStatus `json:"status"`
	AuthMethod AuthMethod      `json:"authMethod"`
	// AuthProvider is the identity provider an OIDC recipient logs in
	// with; Identity whom it vouched for, once they have.
	AuthProvider string        `json:"authProvider,omitempty"`
	Identity     *IdentityView `json:"identity"`
	// Locale is the recipient's BCP 47 language ("" when unset).
	Locale     string     `json:"locale"`
	SignedAt   *time.Time `json:"signedAt"`
	DeclinedAt *time.Time `json:"declinedAt"`
}

// SignerDocument is a document the signer can read.
type SignerDocument struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Title    string `json:"title,omitempty"`
	Pages    int    `json:"pages"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
}

// SignerSession is the state of the signer's session.
type SignerSession struct {
	Status    SessionStatus `json:"status"`
	ExpiresAt time.Time     `json:"expiresAt"`
	// CanSign says whether POST …/sign is possible now (after any OTP or
	// access code); CanDecline likewise for POST …/decline.
	CanSign      bool       `json:"canSign"`
	CanDecline   bool       `json:"canDecline"`
	OTPExpiresAt *time.Time `json:"otpExpiresAt"`
}

// SignInput is a recipient's signature.
type SignInput struct {
	Consent bool
	// SignatureType is "typed" (Text) or "drawn" (Image, PNG bytes).
	SignatureType string
	Text          string
	Image         []byte
	OTP           string
	AccessCode    string
	// OIDCBinding is the browser's secret from StartLogin (a cookie), for
	// an OIDC recipient.
	OIDCBinding string
	// Values fill the recipient's TEXT, CHECKBOX and DATE fields by id.
	Values map[string]string
}

// signerCtx is a resolved token: the locked envelope, the session and the
// recipient.
type signerCtx struct {
	env *Envelope
	ss  *Session
	r   *Recipient
}

// KnownToken returns ErrTokenUnknown unless a session has token. It reads
// one indexed row and locks nothing, so the HTTP layer can refuse a bogus
// token before it reads (or waits for) a request body.
func (s *Service) KnownToken(ctx context.Context, token string) error {
	if token == "" || len(token) > 128 {
		return ErrTokenUnknown
	}
	known, err := s.store.tokenKnown(ctx, hashToken(token))
	if err != nil {
		return err
	}
	if !known {
		return ErrTokenUnknown
	}
	return nil
}

// resolve finds the session of token and locks its envelope.
func (s *Service) resolve(ctx context.Context, token string) (*signerCtx, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrTokenUnknown
	}
	ss, err := s.store.sessionByToken(ctx, hashToken(token))
	if err != nil {
		return nil, err
	}
	env, err := s.store.lockEnvelope(ctx, ss.EnvelopeID)
	if err != nil {
		return nil, err
	}
	sc := &signerCtx{env: env, ss: env.session(ss.RecipientID), r: env.recipient(ss.RecipientID)}
	if sc.ss == nil || sc.r == nil {
		return nil, ErrTokenUnknown
	}
	return sc, nil
}

// resolveUsable resolves token and applies the token rules for acting or
// viewing, as every signer call does first.
func (s *Service) resolveUsable(ctx context.Context, token string, acting bool) (*signerCtx, error) {
	sc, err := s.resolve(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := s.usable(sc, acting); err != nil {
		return nil, err
	}
	return sc, nil
}

// usable checks the token rules for acting (sign, decline, OTP) or for
// viewing.
func (s *Service) usable(sc *signerCtx, acting bool) error {
	now := s.now()
	switch {
	case sc.ss.Status == SessionSigned:
		return ErrAlreadySigned
	case sc.ss.Status == SessionDeclined:
		return ErrAlreadyDeclined
	case sc.env.Status.Final():
		return map[Status]error{StatusCompleted: ErrEnvelopeCompleted, StatusDeclined: ErrEnvelopeDeclined,
			StatusVoided: ErrEnvelopeVoided, StatusExpired: ErrEnvelopeExpired}[sc.env.Status]
	case sc.ss.Status == SessionExpired || !now.Before(sc.ss.ExpiresAt):
		return fmt.Errorf("%w at %s", ErrLinkExpired, sc.ss.ExpiresAt.UTC().Format(time.RFC3339))
	case sc.r.Role == RoleCC:
		return fmt.Errorf("%w: a CC recipient receives the result once the envelope is completed", ErrCannotSign)
	case sc.r.Status == RecipientPending || !hasTurn(sc.env, sc.r):
		return ErrNotYourTurn
	case acting && sc.r.Role == RoleViewer:
		return fmt.Errorf("%w: a VIEWER can read the documents but not sign", ErrCannotSign)
	}
	return nil
}

func (s *Service) signerView(sc *signerCtx) *SignerView {
	env, r, ss := sc.env, sc.r, sc.ss
	v := &SignerView{
		Envelope: SignerEnvelope{ID: env.ID, Subject: env.Subject, Message: env.Message, SignText: env.ConsentText(),
			Status: env.Status, SigningOrder: env.SigningOrder, ExpiresAt: utc(env.ExpiresAt), Language: env.Language},
		Recipient: SignerRecipient{ID: r.ID, Name: r.Name, Email: r.Email, Role: r.Role, Status: r.Status,
			AuthMethod: r.AuthMethod, AuthProvider: r.AuthProvider, Identity: identityView(r), Locale: r.Locale,
			SignedAt: utc(r.SignedAt), DeclinedAt: utc(r.DeclinedAt)},
		Documents: []SignerDocument{}, Fields: []FieldView{}, Redirects: env.Redirects,
		Session: SignerSession{Status: ss.Status, ExpiresAt: ss.ExpiresAt.UTC(), OTPExpiresAt: utc(ss.OTPExpiresAt)},
	}
	for _, d := range env.Documents {
		v.Documents = append(v.Documents, SignerDocument{ID: d.DocumentID, Filename: d.Filename, Title: d.Title,
			Pages: d.Pages, SHA256: d.CurrentSHA256, Size: d.CurrentSize})
	}
	for _, f := range env.fieldsOf(r.ID) {
		v.Fields = append(v.Fields, FieldView{ID: f.ID, DocumentID: f.DocumentID, Type: f.Type, Page: f.Page,
			X: f.X, Y: f.Y, Width: f.Width, Height: f.Height, Required: f.Required, Value: f.Value})
	}
	acting := s.usable(sc, true) == nil
	v.Session.CanSign, v.Session.CanDecline = acting, acting
	return v
}

// Open returns the signer's view of token and, the first time, records
// that the recipient opened it (recipient.viewed).
func (s *Service) Open(ctx context.Context, token string, actor Actor) (*SignerView, error) {
	var v *SignerView
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		sc, err := s.resolveUsable(ctx, token, false)
		if err != nil {
			return err
		}
		if sc.ss.OpenedAt == nil {
			now := s.now()
			sc.ss.OpenedAt = &now
			sc.ss.Status = SessionOpened
			if err := s.store.openSession(ctx, sc.ss); err != nil {
				return err
			}
			sc.r.Status, sc.r.ViewedAt = RecipientOpened, &now
			if err := s.store.markViewed(ctx, sc.r); err != nil {
				return err
			}
			actor.Name = "recipient:" + sc.r.ID
			if err := s.record(ctx, sc.env, "recipient.viewed", actor, sc.r.ID, nil); err != nil {
				return err
			}
		}
		v = s.signerView(sc)
		return nil
	})
	return v, err
}

// OpenDocument streams the current revision of one of the envelope's
// documents to a recipient whose link is usable. Once the envelope is
// COMPLETED a recipient's link still downloads the final documents, which
// is what the completion e-mail links to when they are too large to attach.
func (s *Service) OpenDocument(ctx context.Context, token, documentID string) (*Document, io.ReadCloser, error) {
	var doc *Document
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		sc, err := s.resolve(ctx, token)
		if err != nil {
			return err
		}
		if sc.env.Status != StatusCompleted {
			if err := s.usable(sc, false); err != nil && !(errors.Is(err, ErrTokenUsed) && sc.env.Status == StatusSent) {
				return err
			}
		}
		for i := range sc.env.Documents {
			if sc.env.Documents[i].DocumentID == documentID {
				doc = &sc.env.Documents[i]
			}
		}
		if doc == nil {
			return fmt.Errorf("document %s is not part of this envelope: %w", documentID, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	rc, _, err := s.Blobs.Get(ctx, doc.CurrentBlobKey)
	if err != nil {
		return nil, nil, fmt.Errorf("open document %s: %w", documentID, err)
	}
	return doc, rc, nil
}

// RequestOTP mails a fresh six-digit code to an EMAIL_OTP recipient.
func (s *Service) RequestOTP(ctx context.Context, token string, actor Actor) (*SignerView, error) {
	var v *SignerView
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		sc, err := s.resolveUsable(ctx, token, true)
		if err != nil {
			return err
		}
		if sc.r.AuthMethod != AuthEmailOTP {
			return ValidationError{{Field: "otp", Reason: "this recipient does not authenticate by e-mail code"}}
		}
		if sc.ss.OTPSent >= OTPMaxSends {
			return fmt.Errorf("%w: at most %d codes per signing link", ErrOTPLocked, OTPMaxSends)
		}
		nonce := make([]byte, 16)
		if _, err := rand.Read(nonce); err != nil {
			return fmt.Errorf("otp nonce: %w", err)
		}
		now := s.now()
		exp := now.Add(OTPLifetime)
		sc.ss.OTPNonce, sc.ss.OTPExpiresAt, sc.ss.OTPAttempts = hex.EncodeToString(nonce), &exp, 0
		sc.ss.OTPSent++
		if err := s.store.storeOTP(ctx, sc.ss); err != nil {
			return err
		}
		actor.Name = "recipient:" + sc.r.ID
		if err := s.record(ctx, sc.env, "recipient.otp_sent", actor, sc.r.ID, nil); err != nil {
			return err
		}
		if err := s.Outbox.Enqueue(ctx, jobs.Task{Type: TaskNotify, Key: fmt.Sprintf("otp:%s:%d", sc.r.ID, sc.ss.OTPSent),
			Queue: jobs.QueueMail, Payload: notifyPayload{Kind: notifyOTP, EnvelopeID: sc.env.ID, RecipientID: sc.r.ID,
				Nonce: sc.ss.OTPNonce}}); err != nil {
			return err
		}
		v = s.signerView(sc)
		return nil
	})
	return v, err
}

// otpCode derives the code mailed for a nonce; nothing secret is stored.
func (s *Service) otpCode(sessionID, nonce string) string {
	m := hmac.New(sha256.New, s.TokenKey)
	m.Write([]byte("otp:" + sessionID + ":" + nonce))
	return fmt.Sprintf("%06d", binary.BigEndian.Uint32(m.Sum(nil))%1000000)
}

// authenticate checks the OTP or access code. A wrong one counts an
// attempt, which the caller commits even though the request fails.
func (s *Service) authenticate(ctx context.Context, sc *signerCtx, in *SignInput) (failed error, err error) {
	ss := sc.ss
	wrong := func(msg string) (error, error) {
		ss.OTPAttempts++
		if err := s.store.setAttempts(ctx, ss); err != nil {
			return nil, err
		}
		return fmt.Errorf("%w: %s (%d of %d attempts used)", ErrAuthRequired, msg, ss.OTPAttempts, OTPMaxAttempts), nil
	}
	switch sc.r.AuthMethod {
	case AuthEmailOTP:
		if in.OTP == "" {
			return fmt.Errorf("%w: send the code mailed by POST …/otp as otp", ErrAuthRequired), nil
		}
		if ss.OTPNonce == "" || ss.OTPExpiresAt == nil || !s.now().Before(*ss.OTPExpiresAt) {
			return fmt.Errorf("%w: no valid code; request one with POST …/otp", ErrAuthRequired), nil
		}
		if ss.OTPAttempts >= OTPMaxAttempts {
			return fmt.Errorf("%w: request a new code", ErrOTPLocked), nil
		}
		if subtle.ConstantTimeCompare([]byte(in.OTP), []byte(s.otpCode(ss.ID, ss.OTPNonce))) != 1 {
			return wrong("wrong code")
		}
		ss.OTPNonce = "" // one use
		return nil, s.store.useOTP(ctx, ss)
	case AuthAccessCode:
		if err := s.checkAccessLock(ctx, ss); err != nil {
			var le *LockedError
			if errors.As(err, &le) {
				return err, nil
			}
			return nil, err
		}
		if in.AccessCode == "" {
			return fmt.Errorf("%w: send the access code the sender gave you as accessCode", ErrAuthRequired), nil
		}
		if subtle.ConstantTimeCompare([]byte(s.secretHash("access-code", sc.r.ID, in.AccessCode)), []byte(sc.r.AccessCodeHash)) != 1 {
			if err := s.countWrongAccessCode(ctx, ss); err != nil {
				return nil, err
			}
			if ss.AuthLockedUntil != nil {
				return &LockedError{Until: *ss.AuthLockedUntil}, nil
			}
			return fmt.Errorf("%w: wrong access code (%d of %d attempts used)", ErrAuthRequired, ss.OTPAttempts, AccessCodeMaxAttempts), nil
		}
	case AuthOIDC:
		return s.authenticateOIDC(sc, in.OIDCBinding), nil
	}
	return nil, nil
}

func checkSignInput(env *Envelope, r *Recipient, in *SignInput, fonts []*pdffont.Font) ValidationError {
	c := &checker{}
	if !in.Consent {
		c.add("consent", "must be true: the signer consents to the sign text and to signing electronically")
	}
	switch in.SignatureType {
	case "typed":
		c.text("signature.text", in.Text, MaxSignatureText, true, true)
		c.drawable("signature.text", in.Text, pdffont.SignatureStack(in.Text, fonts...))
	case "drawn":
		if len(in.Image) == 0 || len(in.Image) > MaxSignatureImage {
			c.add("signature.image", "must be a PNG data URL of at most 512 KiB")
		} else if cfg, err := png.DecodeConfig(bytes.NewReader(in.Image)); err != nil {
			c.add("signature.image", "is not a PNG image: %v", err)
		} else if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > 4000 || cfg.Height > 4000 {
			c.add("signature.image", "must be from 1×1 to 4000×4000 pixels")
		} else if _, err := png.Decode(bytes.NewReader(in.Image)); err != nil {
			c.add("signature.image", "is not a readable PNG image: %v", err)
		}
	case "":
		if r.Role == RoleSigner {
			c.add("signature", "is required: {type: \"typed\", text} or {type: \"drawn\", image}")
		}
	default:
		c.add("signature.type", "must be typed or drawn")
	}
	fields := env.fieldsOf(r.ID)
	known := map[string]bool{}
	for _, f := range fields {
		known[f.ID] = true
		v, given := in.Values[f.ID]
		switch f.Type {
		case FieldText:
			if f.Required && strings.TrimSpace(v) == "" {
				c.add("values."+f.ID, "is required (a TEXT field)")
			}
			c.text("values."+f.ID, v, MaxFieldValue, false, false)
		case FieldCheckbox:
			if given && v != "true" && v != "false" {
				c.add("values."+f.ID, "must be \"true\" or \"false\" (a CHECKBOX field)")
			} else if f.Required && v != "true" {
				c.add("values."+f.ID, "must be \"true\": this checkbox is required")
			}
		case FieldDate:
			if given && v != "" {
				if _, err := time.Parse("2006-01-02", v); err != nil {
					c.add("values."+f.ID, "must be a date such as 2025-01-31 (or omitted for today)")
				}
			}
		default:
			if given {
				c.add("values."+f.ID, "is a %s field, which takes the signature, not a value", f.Type)
			}
		}
	}
	for id := range in.Values {
		if !known[id] {
			c.add("values."+id, "is not one of this recipient's fields")
		}
	}
	return c.errs
}

// Sign records a recipient's consent and signature (or approval) and
// queues the task that applies it to the documents.
func (s *Service) Sign(ctx context.Context, token string, in SignInput, actor Actor) (*SignerView, error) {
	var v *SignerView
	var authFailed error
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		sc, err := s.resolveUsable(ctx, token, true)
		if err != nil {
			return err
		}
		if verrs := checkSignInput(sc.env, sc.r, &in, s.Fonts); len(verrs) > 0 {
			return verrs
		}
		if authFailed, err = s.authenticate(ctx, sc, &in); err != nil || authFailed != nil {
			return err // commit the counted attempt; authFailed is returned after
		}
		now := s.now()
		r := sc.r
		r.Status, r.SignedAt, r.IP, r.UserAgent = RecipientSigned, &now, actor.IP, actor.UserAgent
		r.SignatureType, r.SignatureText, r.SignatureImage = in.SignatureType, strings.TrimSpace(in.Text), in.Image
		if r.SignatureType == "" {
			r.SignatureType, r.SignatureText = "approval", r.Name
		}
		if err := s.store.recordSignature(ctx, r); err != nil {
			return err
		}
		sc.ss.Status, sc.ss.FinishedAt = SessionSigned, &now
		if err := s.store.finishSession(ctx, sc.ss); err != nil {
			return err
		}
		for i := range sc.env.Fields {
			f := &sc.env.Fields[i]
			if f.RecipientID != r.ID {
				continue
			}
			val := in.Values[f.ID]
			switch f.Type {
			case FieldDate:
				if val == "" {
					val = now.Format("2006-01-02")
				}
			case FieldSignature, FieldInitials:
				val = r.SignatureType
			}
			f.Value = val
			if err := s.store.setFieldValue(ctx, f); err != nil {
				return err
			}
		}
		actor.Name = "recipient:" + r.ID
		details := map[string]string{"role": string(r.Role), "auth": string(r.AuthMethod), "signatureType": r.SignatureType}
		details["consentTextSha256"] = sha256Hex([]byte(sc.env.ConsentText()))
		if id := r.Identity; r.AuthMethod == AuthOIDC && id != nil {
			details["identityProvider"], details["identityIssuer"], details["identitySubject"] = id.Provider, id.Issuer, id.Subject
		}
		if err := s.record(ctx, sc.env, "recipient.signed", actor, r.ID, details); err != nil {
			return err
		}
		if err := s.Outbox.Enqueue(ctx, jobs.Task{Type: TaskApply, Key: r.ID, Queue: jobs.QueueCritical,
			Payload: taskPayload{EnvelopeID: sc.env.ID, RecipientID: r.ID}, Timeout: 5 * time.Minute}); err != nil {
			return err
		}
		v = s.signerView(sc)
		v.RedirectURL = sc.env.Redirects.Success
		return nil
	})
	if err != nil {
		return nil, err
	}
	if authFailed != nil {
		return nil, authFailed
	}
	return v, nil
}

// Decline ends the envelope: the recipient refuses to sign.
func (s *Service) Decline(ctx context.Context, token, reason string, actor Actor) (*SignerView, error) {
	var v *SignerView
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		sc, err := s.resolveUsable(ctx, token, true)
		if err != nil {
			return err
		}
		reason = strings.TrimSpace(reason)
		c := &checker{}
		c.text("reason", reason, MaxDeclineReason, true, false)
		if len(c.errs) > 0 {
			return c.errs
		}
		now := s.now()
		r, env := sc.r, sc.env
		r.Status, r.DeclinedAt, r.DeclineReason, r.IP, r.UserAgent = RecipientDeclined, &now, reason, actor.IP, actor.UserAgent
		if err := s.store.recordDecline(ctx, r); err != nil {
			return err
		}
		sc.ss.Status, sc.ss.FinishedAt = SessionDeclined, &now
		if err := s.store.finishSession(ctx, sc.ss); err != nil {
			return err
		}
		actor.Name = "recipient:" + r.ID
		if err := s.record(ctx, env, "recipient.declined", actor, r.ID, map[string]string{"reason": reason}); err != nil {
			return err
		}
		env.Status, env.DeclinedAt = StatusDeclined, &now
		if err := s.closeSessions(ctx, env, now); err != nil {
			return err
		}
		if err := s.finishState(ctx, env, "envelope.declined", actor, map[string]string{"recipientId": r.ID, "reason": reason}); err != nil {
			return err
		}
		if err := s.notifyAll(ctx, env, notifyDeclined); err != nil {
			return err
		}
		v = s.signerView(sc)
		v.RedirectURL = env.Redirects.Cancel
		return nil
	})
	return v, err
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
