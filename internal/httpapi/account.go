package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
)

// AccountRoutes serves /api/v1/account: the calling key's account and its
// settings (embed origins for embedded signing).
func AccountRoutes(accounts *account.Service) func(e *echo.Echo, api *echo.Group) {
	h := &accountHandlers{accounts: accounts}
	return func(_ *echo.Echo, api *echo.Group) {
		api.GET("/account", h.get)
		api.PATCH("/account", h.update)
	}
}

type accountHandlers struct{ accounts *account.Service }

// accountResponse is an account as the API shows it.
type accountResponse struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"createdAt"`
	// EmbedOrigins may frame the account's signing pages.
	EmbedOrigins []string `json:"embedOrigins"`
}

func toAccountResponse(a *account.Account) accountResponse {
	origins := a.EmbedOrigins
	if origins == nil {
		origins = []string{}
	}
	return accountResponse{ID: a.ID, Name: a.Name, Email: a.Email, CreatedAt: a.CreatedAt.UTC(), EmbedOrigins: origins}
}

func (h *accountHandlers) get(c echo.Context) error {
	a, err := h.accounts.GetAccount(c.Request().Context(), APIKey(c).AccountID)
	if err != nil {
		return err
	}
	etag := versionETag(a.Version)
	c.Response().Header().Set("ETag", etag)
	if noneMatch(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSON(http.StatusOK, toAccountResponse(a))
}

// updateAccountRequest is PATCH /account's body; only embedOrigins can be
// changed through the API.
type updateAccountRequest struct {
	EmbedOrigins *[]string `json:"embedOrigins"`
}

func (h *accountHandlers) update(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req updateAccountRequest
	bad, err := bindJSON(c, &req, "application/json", "application/merge-patch+json")
	if err != nil {
		return err
	}
	if req.EmbedOrigins == nil && len(bad) == 0 {
		bad = append(bad, InvalidParam{Name: "embedOrigins", Reason: "is required: the origins allowed to frame the signing page ([] for none)"})
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	a, err := h.accounts.SetEmbedOrigins(c.Request().Context(), APIKey(c).AccountID, *req.EmbedOrigins, account.Precondition(match))
	if err != nil {
		return fieldProblem(err)
	}
	c.Response().Header().Set("ETag", versionETag(a.Version))
	return c.JSON(http.StatusOK, toAccountResponse(a))
}
