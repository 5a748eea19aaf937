package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/openapi"
)

//go:embed docs.html
var docsPage []byte

// serveOpenAPI serves the contract at /api/openapi.json.
func serveOpenAPI(c echo.Context) error {
	doc, err := openapi.JSON()
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
}

// serveDocsPage serves a self-contained page that renders the contract.
func serveDocsPage(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	h.Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, docsPage)
}
