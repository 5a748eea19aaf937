package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/idp"
	"github.com/vellum-sign/vellum/internal/mail"
	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/pkg/revocation"

	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// buildMailer picks the mailer: SMTP when VELLUM_SMTP_HOST is set; else,
// in dev, the mailbox served at /dev/mail; else (serve and worker, whose
// configuration check demands VELLUM_MAIL=log without an SMTP host) a
// mailer that only logs.
func (a *app) buildMailer(dev bool) error {
	switch {
	case a.cfg.SMTP.Host != "":
		m, err := mail.NewSMTP(mail.SMTPConfig{Host: a.cfg.SMTP.Host, Port: a.cfg.SMTP.Port, Username: a.cfg.SMTP.Username,
			Password: a.cfg.SMTP.Password, From: a.cfg.SMTP.From, TLS: a.cfg.SMTP.TLS})
		if err != nil {
			return fmt.Errorf("VELLUM_SMTP_*: %w", err)
		}
		a.mailer = m
	case dev:
		a.devMail = mail.NewDev(a.log.With("component", "mail"), 200)
		a.mailer = a.devMail
	case a.cfg.Mail == "log":
		a.mailer = mail.NewLog(a.log.With("component", "mail"))
	default:
		return errors.New("VELLUM_SMTP_HOST: required unless VELLUM_MAIL=log")
	}
	return nil
}

// buildEnvelopes builds the envelope workflow once the PKI and TSA client
// exist: the token key and the service.
func (a *app) buildEnvelopes(ctx context.Context) error {
	key, generated, err := envelope.TokenKey(ctx, a.db, a.cfg.TokenSecret)
	if err != nil {
		return fmt.Errorf("VELLUM_TOKEN_SECRET: %w", err)
	}
	if generated && a.cfg.DataDir == "" {
		a.log.Warn("VELLUM_TOKEN_SECRET is not set: signing-link tokens derive from a key kept in the database")
	}
	fonts := make([]*pdffont.Font, 0, len(a.cfg.FontPaths))
	for _, p := range a.cfg.FontPaths {
		f, err := pdffont.ParseFile(p)
		if err != nil {
			return fmt.Errorf("VELLUM_FONT_PATH: %w", err)
		}
		fonts = append(fonts, f)
	}
	providers, err := a.identityProviders()
	if err != nil {
		return err
	}
	deps := envelope.Deps{
		IdentityProviders: providers,
		DB:                a.db, Outbox: a.outbox, Blobs: a.blob, Documents: a.docs, Accounts: a.accounts,
		EventLog: audit.NewLog(a.db), Mailer: a.mailer, PKI: a.pki,
		Revocation: a.pki.Revocation(envelope.RevocationFrom(&revocation.Fetcher{HTTPClient: a.outboundClient()}, a.pki.Root())),
		PublicURL:  a.cfg.PublicURL, TokenKey: key, Log: a.log.With("component", "envelopes"),
		Fonts: fonts, Publisher: a.webhooks, Timestamper: a.timestamper,
	}
	a.envelopes, err = envelope.NewService(deps)
	return err
}

// outboundClient is the HTTP client for fetches that documents' contents
// steer: the outbound guard, with the operator's own endpoints (the TSAs,
// the public URL serving the platform's OCSP and CRLs) allowed by name.
func (a *app) outboundClient() *http.Client {
	var hosts []string
	for _, u := range append([]string{a.cfg.PublicURL}, a.cfg.TSAs()...) {
		if hp, err := outbound.HostPort(u); err == nil {
			hosts = append(hosts, hp)
		}
	}
	return outbound.NewClient(outbound.Config{
		Timeout: 30 * time.Second, AllowPrivate: a.cfg.OutboundAllowPrivate, AllowHosts: hosts,
		// CAs move their CRLs and OCSP responders behind redirects; each
		// hop is checked like the first.
		MaxRedirects: 3, MaxResponseBytes: 32 << 20,
	})
}

// identityProviders builds the signers' OpenID Connect providers. Their
// issuers are the operator's own endpoints, so their hosts are reachable by
// name through the outbound guard, as the TSAs are; keys and token
// endpoints elsewhere meet the address check.
func (a *app) identityProviders() (*idp.Registry, error) {
	var providers []idp.Provider
	var hosts []string
	for _, p := range a.cfg.OIDCProviders {
		providers = append(providers, idp.Provider{Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID,
			ClientSecret: p.ClientSecret, Scopes: p.Scopes, NationalIDClaim: p.NationalIDClaim})
		if hp, err := outbound.HostPort(p.Issuer); err == nil {
			hosts = append(hosts, hp)
		}
	}
	reg, err := idp.New(providers, a.cfg.PublicURL+httpapi.OIDCCallbackPath, outbound.NewClient(outbound.Config{
		Timeout: 10 * time.Second, AllowPrivate: a.cfg.OutboundAllowPrivate, AllowHosts: hosts,
		MaxResponseBytes: 1 << 20,
	}))
	if err != nil {
		return nil, fmt.Errorf("VELLUM_OIDC_PROVIDERS: %w", err)
	}
	return reg, nil
}
