package httpapi

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
)

// KeyRoutes serves /api/v1/keys (Certyneo): create, list, revoke.
func KeyRoutes(accounts *account.Service) func(e *echo.Echo, api *echo.Group) {
	h := &keyHandlers{accounts: accounts}
	return func(_ *echo.Echo, api *echo.Group) {
		api.POST("/keys", h.create)
		api.GET("/keys", h.list)
		api.DELETE("/keys/:id", h.revoke)
	}
}

type keyHandlers struct{ accounts *account.Service }

// keyResponse is a key as the API shows it; the secret only on creation.
type keyResponse struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	Environment string     `json:"environment"`
	CreatedAt   time.Time  `json:"createdAt"`
	LastUsedAt  *time.Time `json:"lastUsedAt"`
	// Roles are the key's RemSig roles (all three when none was given).
	Roles  []account.Role `json:"roles"`
	Secret string         `json:"secret,omitempty"`
	// SecretWithheld marks an Idempotency-Key replay of a creation: the
	// secret was shown once and is not stored anywhere to show again.
	SecretWithheld bool `json:"secretWithheld,omitempty"`
}

func toKeyResponse(k *account.Key) keyResponse {
	return keyResponse{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Environment: string(k.Environment),
		CreatedAt: k.CreatedAt.UTC(), LastUsedAt: utcPtr(k.LastUsedAt), Roles: k.RoleList()}
}

type createKeyRequest struct {
	Name        *string  `json:"name"`
	Environment *string  `json:"environment"`
	Roles       []string `json:"roles"`
}

func (h *keyHandlers) create(c echo.Context) error {
	caller := APIKey(c)
	var req createKeyRequest
	bad, err := bindJSONOrEmpty(c, &req)
	if err != nil {
		return err
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
		if utf8.RuneCountInString(name) > account.MaxKeyNameLen {
			bad = append(bad, InvalidParam{Name: "name", Reason: "must be at most 255 characters"})
		}
	}
	if req.Environment != nil {
		env, err := account.ParseEnvironment(*req.Environment)
		switch {
		case err != nil:
			bad = append(bad, InvalidParam{Name: "environment", Reason: "must be one of test, live"})
		case env != caller.Environment:
			return NewProblem(http.StatusForbidden, "environment_mismatch",
				"a "+string(caller.Environment)+" key can only create "+string(caller.Environment)+" keys; use a "+string(env)+" key")
		}
	}
	roles, err := account.ParseRoles(req.Roles)
	if err != nil {
		bad = append(bad, InvalidParam{Name: "roles", Reason: err.Error()})
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	k, secret, err := h.accounts.CreateKeyIn(c.Request().Context(), caller.Scope(), name, roles)
	if err != nil {
		return err
	}
	resp := toKeyResponse(k)
	resp.SecretWithheld = true
	withholdOnReplay(c, resp)
	resp.SecretWithheld = false
	resp.Secret = secret
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/keys/"+k.ID)
	return c.JSON(http.StatusCreated, resp)
}

func (h *keyHandlers) list(c echo.Context) error {
	q, bad := listParams(c.QueryParams(), account.KeySortFields)
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	page, err := h.accounts.ListKeys(c.Request().Context(), APIKey(c).Scope(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListResponse(q, page, toKeyResponse))
}

func (h *keyHandlers) revoke(c echo.Context) error {
	if err := h.accounts.RevokeKey(c.Request().Context(), APIKey(c).Scope(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// bindJSONOrEmpty is bindJSON that also accepts no body at all.
func bindJSONOrEmpty(c echo.Context, dst any) ([]InvalidParam, error) {
	r := c.Request()
	if r.ContentLength == 0 && r.Header.Get(echo.HeaderContentType) == "" {
		return nil, nil
	}
	return bindJSON(c, dst)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
