package cli

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/certrequest"
	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/httpapi/remsig"
	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/pkg/revocation"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// buildBatches builds RemSig's signing batches over persons' keys.
func (a *app) buildBatches() error {
	servers := make([]rfc3161.Server, 0, len(a.cfg.TSAs()))
	for i, u := range a.cfg.TSAs() {
		servers = append(servers, rfc3161.Server{Name: tsaName(i), URL: u})
	}
	issuing := a.pki.Issuing()
	a.batches = batch.NewService(batch.Deps{
		DB: a.db, Blobs: a.blob, Outbox: a.outbox, Persons: a.persons,
		Timestamper: a.timestamper, TSAs: servers,
		Revocation: a.pki.Revocation(envelope.RevocationFrom(&revocation.Fetcher{HTTPClient: a.outboundClient()}, a.pki.Root())),
		Chain: func(c *x509.Certificate) []*x509.Certificate {
			if c.CheckSignatureFrom(issuing) == nil {
				return []*x509.Certificate{issuing}
			}
			return nil
		},
		Log: a.log.With("component", "batches"),
	})
	// RemSig lets a request name its own TSA (timestamp.url). Its address
	// is the caller's choice, so it is fetched through the outbound guard
	// with nothing allowed by name, and bounded as RemSig bounds it (< 5 s).
	a.batches.TSAClient = rfc3161.WithHTTPClient(outbound.NewClient(outbound.Config{
		Timeout: 5 * time.Second, AllowPrivate: a.cfg.OutboundAllowPrivate, MaxResponseBytes: 1 << 20}))
	if len(a.cfg.RemSigDataSources) > 0 {
		src, err := batch.NewHTTPSources(a.cfg.RemSigDataSources, outbound.NewClient(outbound.Config{
			Timeout: 30 * time.Second, AllowPrivate: a.cfg.OutboundAllowPrivate, MaxResponseBytes: 64 << 20}))
		if err != nil {
			return fmt.Errorf("VELLUM_REMSIG_DATA_SOURCES: %w", err)
		}
		a.batches.Sources = src
	}
	return nil
}

// remsigDeps builds the RemSig surface's dependencies.
func (a *app) remsigDeps() remsig.Deps {
	return remsig.Deps{Accounts: a.accounts, Persons: a.persons, Batches: a.batches, Requests: a.certRequests(), PublicURL: a.cfg.PublicURL,
		MaxRequestBytes: a.cfg.MaxUploadBytes + 1<<20}
}

// certRequests is RemSig's PostSignum certificate requests. PostSignum
// cannot be reached from here: the platform CA fulfils approved requests
// until a PostSignum connector (a certrequest.Fulfiller) is configured in
// its place.
func (a *app) certRequests() *certrequest.Service {
	return certrequest.NewService(a.db, a.persons, certrequest.PlatformCA{Persons: a.persons})
}
