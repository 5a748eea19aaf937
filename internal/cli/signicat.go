package cli

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/collection"
	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/httpapi/signicat"
	"github.com/vellum-sign/vellum/internal/packaging"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/seal"
	"github.com/vellum-sign/vellum/pkg/revocation"
)

// signicatRoutes mounts Signicat's Sign API v2 (/sign/…) and its token
// endpoint.
func (a *app) signicatRoutes() func(e *echo.Echo, api *echo.Group) {
	return signicat.Routes(signicat.Deps{
		Accounts:        a.accounts,
		Documents:       a.docs,
		Collections:     collection.NewService(a.db, a.docs),
		Packages:        a.packager(),
		Merchant:        &seal.Documents{Docs: a.docs, Sealer: a.sealer(), Credential: a.merchantSeal},
		MaxRequestBytes: a.cfg.MaxUploadBytes + 1<<20,
	})
}

// sealer seals with the deployment's TSAs and revocation data (B-LTA).
func (a *app) sealer() seal.Sealer {
	return seal.Sealer{Timestamper: a.timestamper,
		Revocation: a.pki.Revocation(envelope.RevocationFrom(&revocation.Fetcher{HTTPClient: a.outboundClient()}, a.pki.Root()))}
}

// merchantSeal is an account's merchant seal. A SEAL certificate of the
// account's persons holds its key under the holder's PIN, which a
// merchant-signing request (no person present) cannot give, so every
// account seals with the platform seal until an account seal can be
// authorised without one.
func (a *app) merchantSeal(context.Context, account.Scope) (pki.Credential, error) {
	return a.pki.Seal(), nil
}

// packager builds packages of signed documents (PADES_CONTAINER) in the
// worker; the API side requests them and lists them.
func (a *app) packager() *packaging.Service {
	return &packaging.Service{DB: a.db, Outbox: a.outbox, Docs: a.docs, Sealer: a.sealer(), Seal: a.pki.Seal}
}
