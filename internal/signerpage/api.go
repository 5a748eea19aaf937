package signerpage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/webpage"
)

// signerView is the part of GET /api/v1/signer/{token} the page renders.
// It mirrors the public signer API (openapi/), not the envelope package's
// Go types, because that JSON is the contract the page's script and
// embedded integrations share.
type signerView struct {
	Envelope struct {
		ID       string `json:"id"`
		Subject  string `json:"subject"`
		Message  string `json:"message"`
		SignText string `json:"signText"`
		Status   string `json:"status"`
	} `json:"envelope"`
	Recipient struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Email      string `json:"email"`
		Role       string `json:"role"`
		Status     string `json:"status"`
		AuthMethod string `json:"authMethod"`
		// AuthProvider and Identity are an OIDC recipient's provider and
		// whom it vouched for.
		AuthProvider string `json:"authProvider"`
		Identity     *struct {
			Name    string `json:"name"`
			Subject string `json:"subject"`
		} `json:"identity"`
		SignedAt   *time.Time `json:"signedAt"`
		DeclinedAt *time.Time `json:"declinedAt"`
	} `json:"recipient"`
	Documents []struct {
		ID       string `json:"id"`
		Filename string `json:"filename"`
		Title    string `json:"title"`
		Pages    int    `json:"pages"`
		Size     int64  `json:"size"`
	} `json:"documents"`
	Fields []struct {
		ID         string `json:"id"`
		DocumentID string `json:"documentId"`
		Type       string `json:"type"`
		Page       int    `json:"page"`
		Required   bool   `json:"required"`
		Value      string `json:"value"`
	} `json:"fields"`
	Session struct {
		Status string `json:"status"`
		// CanSign says whether the recipient may sign now (a viewer may not).
		CanSign bool `json:"canSign"`
	} `json:"session"`
	Redirects redirects `json:"redirects"`
}

// redirects are where the signer goes after acting, when the envelope has
// them.
type redirects struct {
	Success string `json:"success"`
	Cancel  string `json:"cancel"`
	Error   string `json:"error"`
}

// problem is the RFC 9457 body of a failed signer API call.
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (p *problem) Error() string {
	return fmt.Sprintf("signer API: %d %s: %s", p.Status, p.Code, p.Detail)
}

// maxViewBytes bounds the signer JSON the page buffers (50 documents and
// their fields are a few tens of kilobytes).
const maxViewBytes = 4 << 20

// fetchView asks the signer API for the token's view with an in-process
// request. The page renders from the same public API as its script and as
// embedded integrations, so they cannot disagree. The sub-request carries
// the signer's address and user agent so the VIEWED event the API records
// names the signer, not the server.
func fetchView(ctx context.Context, api http.Handler, orig *http.Request, token string) (*signerView, error) {
	resp, err := webpage.Fetch(ctx, api, orig, apiBase(token), maxViewBytes)
	if err != nil {
		return nil, fmt.Errorf("signer API: %w", err)
	}
	if resp.Status != http.StatusOK {
		p := &problem{}
		if err := json.Unmarshal(resp.Body, p); err != nil || p.Status == 0 {
			p.Status = resp.Status
		}
		return nil, p
	}
	var v signerView
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		return nil, fmt.Errorf("signer API: decode view: %w", err)
	}
	return &v, nil
}

// apiBase is the signer API path of a token.
func apiBase(token string) string { return "/api/v1/signer/" + url.PathEscape(token) }

// roleActs reports whether the recipient signs or approves (as opposed to
// a viewer or CC, who only reads).
func roleActs(role string) bool {
	return role == "" || strings.EqualFold(role, "SIGNER") || strings.EqualFold(role, "APPROVER")
}
