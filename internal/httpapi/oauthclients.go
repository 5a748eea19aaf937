package httpapi

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
)

// OAuthClientRoutes serves /api/v1/oauth-clients: the OAuth 2.0 clients
// whose client credentials buy access tokens at /auth/open/connect/token
// (Signicat's token endpoint). Create, list, revoke, as API keys.
func OAuthClientRoutes(accounts *account.Service) func(e *echo.Echo, api *echo.Group) {
	h := &oauthClientHandlers{accounts: accounts}
	return func(_ *echo.Echo, api *echo.Group) {
		api.POST("/oauth-clients", h.create)
		api.GET("/oauth-clients", h.list)
		api.DELETE("/oauth-clients/:id", h.revoke)
	}
}

type oauthClientHandlers struct{ accounts *account.Service }

// oauthClientResponse is a client as the API shows it; the secret only on
// creation.
type oauthClientResponse struct {
	ID           string     `json:"id"`
	ClientID     string     `json:"clientId"`
	Name         string     `json:"name"`
	Environment  string     `json:"environment"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastUsedAt   *time.Time `json:"lastUsedAt"`
	ClientSecret string     `json:"clientSecret,omitempty"`
	// SecretWithheld marks an Idempotency-Key replay of a creation.
	SecretWithheld bool `json:"secretWithheld,omitempty"`
}

func toOAuthClientResponse(c *account.OAuthClient) oauthClientResponse {
	return oauthClientResponse{ID: c.ID, ClientID: c.ClientID, Name: c.Name, Environment: string(c.Environment),
		CreatedAt: c.CreatedAt.UTC(), LastUsedAt: utcPtr(c.LastUsedAt)}
}

type createOAuthClientRequest struct {
	Name *string `json:"name"`
}

func (h *oauthClientHandlers) create(c echo.Context) error {
	var req createOAuthClientRequest
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
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	cl, secret, err := h.accounts.CreateClient(c.Request().Context(), APIKey(c).Scope(), name)
	if err != nil {
		return err
	}
	resp := toOAuthClientResponse(cl)
	resp.SecretWithheld = true
	withholdOnReplay(c, resp)
	resp.SecretWithheld = false
	resp.ClientSecret = secret
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/oauth-clients/"+cl.ID)
	return c.JSON(http.StatusCreated, resp)
}

func (h *oauthClientHandlers) list(c echo.Context) error {
	q, bad := listParams(c.QueryParams(), account.ClientSortFields)
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	page, err := h.accounts.ListClients(c.Request().Context(), APIKey(c).Scope(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListResponse(q, page, toOAuthClientResponse))
}

func (h *oauthClientHandlers) revoke(c echo.Context) error {
	if err := h.accounts.RevokeClient(c.Request().Context(), APIKey(c).Scope(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
