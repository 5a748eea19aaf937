package envelope

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/idp"
	"github.com/vellum-sign/vellum/internal/pki"
)

// Identity-provider login rules: a login must come back within
// OIDCLoginLifetime of starting, and the identity it establishes lets the
// recipient sign for OIDCIdentityLifetime.
const (
	OIDCLoginLifetime    = 15 * time.Minute
	OIDCIdentityLifetime = time.Hour
)

// ErrLoginUnknown means an identity-provider callback names no login in
// progress: a forged, used or replaced state (400).
var ErrLoginUnknown = errors.New("no identity-provider login in progress has this state")

// IdentityView is the verified identity as the recipient and the sender
// see it.
type IdentityView struct {
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
	Name     string `json:"name,omitempty"`
	// NationalIdentificationNumber is the one the provider vouched for.
	NationalIdentificationNumber string    `json:"nationalIdentificationNumber,omitempty"`
	VerifiedAt                   time.Time `json:"verifiedAt"`
}

func identityView(r *Recipient) *IdentityView {
	if r.Identity == nil || r.IdentifiedAt == nil {
		return nil
	}
	return &IdentityView{Provider: r.Identity.Provider, Subject: r.Identity.Subject, Name: r.Identity.Name,
		NationalIdentificationNumber: r.Identity.NationalID, VerifiedAt: r.IdentifiedAt.UTC()}
}

// verifiedSerial is the certificate serialNumber of a recipient whose
// identity provider vouched for a national identification number.
func (r *Recipient) verifiedSerial() string {
	if r.AuthMethod != AuthOIDC || r.Identity == nil || !pki.ValidSerialNumber(r.Identity.NationalID) {
		return ""
	}
	return r.Identity.NationalID
}

// oidcFlow derives a login's nonce and PKCE verifier from the token key,
// the session and the state, so neither is stored.
func (s *Service) oidcFlow(sessionID, state string) idp.Flow {
	mac := func(purpose string) []byte {
		m := hmac.New(sha256.New, s.TokenKey)
		m.Write([]byte(purpose + ":" + sessionID + ":" + state))
		return m.Sum(nil)
	}
	var v [sha256.Size]byte
	copy(v[:], mac("oidc-pkce"))
	return idp.Flow{State: state, Nonce: hex.EncodeToString(mac("oidc-nonce")), Verifier: idp.DerivedVerifier(v)}
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// StartLogin begins an OIDC recipient's login with their identity
// provider. It returns the provider's authorization URL to send the
// browser to and the binding: a secret the caller keeps in that browser (a
// cookie) and hands to FinishLogin and Sign, so that a login finished or a
// signature made in another browser — one that only has the link — counts
// for nothing. A new login replaces the previous one and its identity.
func (s *Service) StartLogin(ctx context.Context, token string, actor Actor) (authURL, binding string, err error) {
	state, err := randomToken()
	if err != nil {
		return "", "", err
	}
	if binding, err = randomToken(); err != nil {
		return "", "", err
	}
	var provider, sessionID string
	err = s.DB.WithTx(ctx, func(ctx context.Context) error {
		sc, err := s.resolveUsable(ctx, token, true)
		if err != nil {
			return err
		}
		if sc.r.AuthMethod != AuthOIDC {
			return ValidationError{{Field: "token", Reason: "this recipient does not log in with an identity provider"}}
		}
		now := s.now()
		sc.ss.OIDCStateHash, sc.ss.OIDCBindingHash, sc.ss.OIDCStartedAt = hashToken(state), hashToken(binding), &now
		if err := s.store.startLogin(ctx, sc.ss); err != nil {
			return err
		}
		if sc.r.Identity != nil {
			sc.r.Identity, sc.r.IdentifiedAt = nil, nil
			if err := s.store.setIdentity(ctx, sc.r); err != nil {
				return err
			}
		}
		provider, sessionID = sc.r.AuthProvider, sc.ss.ID
		return nil
	})
	if err != nil {
		return "", "", err
	}
	// Discovery may reach the provider: outside the transaction.
	authURL, err = s.IdentityProviders.AuthCodeURL(ctx, provider, s.oidcFlow(sessionID, state))
	if err != nil {
		return "", "", fmt.Errorf("identity provider %s: %w", provider, err)
	}
	return authURL, binding, nil
}

// LoginResult is where a finished login sends the browser: the signing
// page, whether the login succeeded or not (Err says why not).
type LoginResult struct {
	SignURL string
	Err     error
}

// FinishLogin completes an identity-provider login from its callback:
// state and code (or the provider's error) from the query, binding from
// the browser. The ID token must be valid for the provider and this login
// (issuer, audience, expiry, nonce) and, when the recipient has a national
// identification number, carry it. The identity is recorded on the
// recipient and as a recipient.authenticated event; a refusal as
// recipient.authentication_failed. An error means the callback could not
// be tied to a signing link at all.
func (s *Service) FinishLogin(ctx context.Context, state, code, providerError, binding string, actor Actor) (*LoginResult, error) {
	if state == "" || len(state) > 128 {
		return nil, ErrLoginUnknown
	}
	ss, err := s.store.sessionByLoginState(ctx, hashToken(state))
	if err != nil {
		return nil, err
	}
	if binding == "" || subtle.ConstantTimeCompare([]byte(hashToken(binding)), []byte(ss.OIDCBindingHash)) != 1 {
		return nil, fmt.Errorf("%w: finish the login in the browser that started it", ErrAuthRequired)
	}
	r, err := s.store.recipientByID(ctx, ss.RecipientID)
	if err != nil {
		return nil, err
	}
	res := &LoginResult{SignURL: s.SignURL(ss)}
	var id *idp.Identity
	var failure error
	switch {
	case ss.OIDCStartedAt == nil || s.now().Sub(*ss.OIDCStartedAt) > OIDCLoginLifetime:
		failure = fmt.Errorf("%w: the login took longer than %s; start again", ErrAuthRequired, OIDCLoginLifetime)
	case providerError != "":
		failure = fmt.Errorf("%w: %s answered %s", ErrAuthRequired, r.AuthProvider, providerError)
	case code == "":
		failure = fmt.Errorf("%w: %s returned no authorization code", ErrAuthRequired, r.AuthProvider)
	default:
		id, err = s.IdentityProviders.Exchange(ctx, r.AuthProvider, code, s.oidcFlow(ss.ID, state))
		switch {
		case errors.Is(err, idp.ErrRejected):
			failure = fmt.Errorf("%w: %v", ErrAuthRequired, err)
		case err != nil:
			return nil, err
		case r.NationalID != "" && subtle.ConstantTimeCompare([]byte(id.NationalID), []byte(r.NationalID)) != 1:
			failure = fmt.Errorf("%w: %s vouched for another national identification number than the sender gave", ErrAuthRequired, r.AuthProvider)
		}
	}
	err = s.DB.WithTx(ctx, func(ctx context.Context) error {
		sc, err := s.resolve(ctx, s.token(ss))
		if err != nil {
			return err
		}
		// One use: a replayed or concurrent callback finds the state gone.
		if sc.ss.OIDCStateHash != hashToken(state) {
			return ErrLoginUnknown
		}
		if err := s.store.endLogin(ctx, sc.ss); err != nil {
			return err
		}
		if err := s.usable(sc, true); err != nil {
			return err
		}
		actor.Name = "recipient:" + sc.r.ID
		details := map[string]string{"method": string(AuthOIDC), "provider": sc.r.AuthProvider}
		if failure != nil {
			details["reason"] = strings.TrimPrefix(failure.Error(), ErrAuthRequired.Error()+": ")
			return s.record(ctx, sc.env, "recipient.authentication_failed", actor, sc.r.ID, details)
		}
		now := s.now()
		sc.r.Identity, sc.r.IdentifiedAt = id, &now
		if err := s.store.setIdentity(ctx, sc.r); err != nil {
			return err
		}
		details["issuer"], details["subject"] = id.Issuer, id.Subject
		if id.Name != "" {
			details["name"] = id.Name
		}
		if id.NationalID != "" {
			details["nationalIdentificationNumber"] = id.NationalID
		}
		return s.record(ctx, sc.env, "recipient.authenticated", actor, sc.r.ID, details)
	})
	if err != nil {
		return nil, err
	}
	res.Err = failure
	return res, nil
}

// authenticateOIDC checks that an OIDC recipient logged in with their
// provider recently, in the browser that signs.
func (s *Service) authenticateOIDC(sc *signerCtx, binding string) error {
	r, ss := sc.r, sc.ss
	if r.Identity == nil || r.IdentifiedAt == nil {
		return fmt.Errorf("%w: log in with %s first (GET /api/v1/signer/{token}/oidc)", ErrAuthRequired, r.AuthProvider)
	}
	if s.now().Sub(*r.IdentifiedAt) > OIDCIdentityLifetime {
		return fmt.Errorf("%w: the login with %s is older than %s; log in again", ErrAuthRequired, r.AuthProvider, OIDCIdentityLifetime)
	}
	if binding == "" || subtle.ConstantTimeCompare([]byte(hashToken(binding)), []byte(ss.OIDCBindingHash)) != 1 {
		return fmt.Errorf("%w: sign in the browser that logged in with %s", ErrAuthRequired, r.AuthProvider)
	}
	return nil
}
