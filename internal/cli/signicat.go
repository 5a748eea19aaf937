package cli

import (
	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/collection"
	"github.com/vellum-sign/vellum/internal/httpapi/signicat"
)

// signicatRoutes mounts Signicat's Sign API v2 (/sign/…) and its token
// endpoint.
func (a *app) signicatRoutes() func(e *echo.Echo, api *echo.Group) {
	return signicat.Routes(signicat.Deps{
		Accounts:        a.accounts,
		Documents:       a.docs,
		Collections:     collection.NewService(a.db, a.docs),
		MaxRequestBytes: a.cfg.MaxUploadBytes + 1<<20,
	})
}
