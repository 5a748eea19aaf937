// Package remsig serves RemSig's remote-signing API at RemSig's own paths
// (/api/certificate/…, /api/sign/…, /api/batch/…, /api/timestamp/…,
// /api/manage/certificate/…): HTTP Basic authentication with API keys and
// their roles, an integer operationId in every body and the Operation-Id
// header, RemSig's page/size/sort paging, and its request and response
// shapes. It is an adapter over the person and batch services.
package remsig

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/certrequest"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/person"
)

// Realm is the HTTP Basic realm of the surface.
const Realm = `Basic realm="vellum"`

// Deps are what the surface is built from.
type Deps struct {
	Accounts *account.Service
	Persons  *person.Service
	Batches  *batch.Service
	// Requests are PostSignum certificate requests (nil: not served).
	Requests *certrequest.Service
	// PublicURL is where the PIN page is reached (authRedirectUrl).
	PublicURL string
	// MaxRequestBytes caps a request body (default 51 MiB).
	MaxRequestBytes int64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Routes mounts the surface on the application router.
func Routes(d Deps) func(e *echo.Echo, _ *echo.Group) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxRequestBytes <= 0 {
		d.MaxRequestBytes = 51 << 20
	}
	h := &handlers{Deps: d}
	return func(e *echo.Echo, _ *echo.Group) {
		e.GET("/api/certificate/", h.op(account.RoleUser, h.listCertificates), etag)
		e.GET("/api/certificate/latest-valid", h.op(account.RoleUser, h.latestValid), etag)
		e.POST("/api/sign/pdf", h.op(account.RoleUser, h.signPDF))
		e.POST("/api/sign/pkcs7", h.op(account.RoleUser, h.signPKCS7))
		e.POST("/api/batch/create", h.op(account.RoleUser, h.createBatch))
		e.POST("/api/batch/:hash/add/pdf", h.op(account.RoleUser, h.addPDF))
		e.POST("/api/batch/:hash/add/pkcs7", h.op(account.RoleUser, h.addPKCS7))
		e.POST("/api/batch/:hash/add/pkcs1", h.op(account.RoleUser, h.addPKCS1))
		e.POST("/api/batch/:hash/add", h.op(account.RoleUser, h.addMany))
		e.POST("/api/batch/:hash/close", h.op(account.RoleUser, h.closeBatch))
		e.GET("/api/batch/", h.op(account.RoleUser, h.listBatches), etag)
		e.GET("/api/batch/:hash", h.op(account.RoleUser, h.getBatch), etag)
		e.GET("/api/batch/:hash/state", h.op(account.RoleUser, h.batchState), etag)
		e.GET("/api/batch/:hash/tasks", h.op(account.RoleUser, h.batchTasks), etag)
		e.GET("/api/batch/:hash/download", h.op(account.RoleUser, h.download))
		e.DELETE("/api/batch/:hash", h.op(account.RoleUser, h.deleteBatch))
		e.GET("/api/sign/validate/pdf/codes", h.public(h.validateCodes), etag)
		e.POST("/api/sign/validate/pdf", h.op(account.RoleUser, h.validatePDF))
		e.GET("/api/timestamp/servers", h.op(account.RoleUser, h.timestampServers), etag)
		e.POST("/api/timestamp/relay/:serverName", h.op(account.RoleSigner, h.relay))
		e.POST("/api/manage/certificate/enable", h.op(account.RoleManager, h.setDisabled(false)))
		e.POST("/api/manage/certificate/disable", h.op(account.RoleManager, h.setDisabled(true)))
		e.POST("/api/manage/certificate/reset-password", h.op(account.RoleUser, h.resetPassword))
		h.postSignumRoutes(e)
	}
}

type handlers struct{ Deps }

type keyedHandler func(c echo.Context, k *account.Key) error

// op authenticates the request with HTTP Basic (401 with the realm
// otherwise), requires role, caps the body and marks the response for an
// operationId in problems too.
func (h *handlers) op(role account.Role, next keyedHandler) echo.HandlerFunc {
	return func(c echo.Context) error {
		httpapi.OperationID(c)
		user, pass, ok := c.Request().BasicAuth()
		if !ok || user == "" {
			if err := httpapi.LimitFailedAuth(c); err != nil {
				return err
			}
			c.Response().Header().Set("WWW-Authenticate", Realm)
			return httpapi.NewProblem(http.StatusUnauthorized, "unauthorized",
				"HTTP Basic authentication required: the API key's id and secret, or the secret and an empty password")
		}
		k, err := h.Accounts.AuthenticateBasic(c.Request().Context(), user, pass)
		if err != nil {
			if errors.Is(err, account.ErrInvalidKey) {
				if err := httpapi.LimitFailedAuth(c); err != nil {
					return err
				}
				c.Response().Header().Set("WWW-Authenticate", Realm)
				return httpapi.NewProblem(http.StatusUnauthorized, "invalid_api_key", "the API key is invalid or has been revoked")
			}
			return err
		}
		// The key's budget is the one it has on /api/v1.
		if err := httpapi.LimitCaller(c, k.ID); err != nil {
			return err
		}
		if !k.HasRole(role) {
			return httpapi.NewProblem(http.StatusForbidden, "role_required",
				fmt.Sprintf("this operation needs the %s role, which the API key does not have", role))
		}
		r := c.Request()
		if r.ContentLength > h.MaxRequestBytes {
			return httpapi.NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
				fmt.Sprintf("the request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, h.MaxRequestBytes))
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, h.MaxRequestBytes)
		httpapi.Logger(r.Context()).Debug("remsig caller", "account_id", k.AccountID, "key_id", k.ID)
		return next(c, k)
	}
}

// public is an operation without authentication.
func (h *handlers) public(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		httpapi.OperationID(c)
		if _, _, basic := c.Request().BasicAuth(); basic {
			// Exempt from the IP limit for its credentials, which
			// nothing checks here: charge the IP now.
			if err := httpapi.LimitFailedAuth(c); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// opID returns the request's operationId.
func opID(c echo.Context) int64 { return httpapi.OperationID(c) }

// millis renders a time as RemSig does: milliseconds since the epoch.
func millis(t time.Time) int64 { return t.UnixMilli() }

// pageInfo is the paging part of a list response.
type pageInfo struct {
	Page          int   `json:"page"`
	Size          int   `json:"size"`
	TotalElements int64 `json:"totalElements"`
	TotalPages    int64 `json:"totalPages"`
}

func newPageInfo(page, size int, total int64) pageInfo {
	return pageInfo{Page: page, Size: size, TotalElements: total, TotalPages: int64(math.Ceil(float64(total) / float64(size)))}
}

// pageParams reads RemSig's page (0-based), size (default 100) and sort
// (prop[,prop…][,ASC|DESC], repeatable) into a query over fields.
func pageParams(c echo.Context, fields []string) (listing.Query, int, int, []httpapi.InvalidParam) {
	var bad []httpapi.InvalidParam
	qp := c.QueryParams()
	page, size := 0, listing.DefaultLimit
	if v := qp.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1_000_000 {
			bad = append(bad, httpapi.InvalidParam{Name: "page", Reason: "must be an integer from 0 (the first page) to 1000000"})
		} else {
			page = n
		}
	}
	if v := qp.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > listing.MaxLimit {
			bad = append(bad, httpapi.InvalidParam{Name: "size", Reason: fmt.Sprintf("must be an integer from 1 to %d", listing.MaxLimit)})
		} else {
			size = n
		}
	}
	q := listing.Query{Offset: page * size, Limit: size}
	for _, v := range qp["sort"] {
		parts := strings.Split(v, ",")
		desc := false
		if last := strings.ToUpper(parts[len(parts)-1]); len(parts) > 1 && (last == "ASC" || last == "DESC") {
			desc = last == "DESC"
			parts = parts[:len(parts)-1]
		}
		for _, p := range parts {
			if !slices.Contains(fields, p) {
				bad = append(bad, httpapi.InvalidParam{Name: "sort",
					Reason: fmt.Sprintf("%q is not sortable; use property[,property…][,ASC|DESC] with one of %s", p, strings.Join(fields, ", "))})
				continue
			}
			q.Sort = append(q.Sort, listing.Order{Field: p, Desc: desc})
		}
	}
	return q, page, size, bad
}
