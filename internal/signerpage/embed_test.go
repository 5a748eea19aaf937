package signerpage

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serveEmbedded(t *testing.T, api http.Handler, path string, embed LinkFunc) (*http.Response, string) {
	t.Helper()
	h, err := New(api, nil, embed)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

func TestPage_FrameAncestorsAreTheAccountsEmbedOrigins(t *testing.T) {
	allowed := func(context.Context, string) (Link, error) {
		return Link{Origins: []string{"https://crm.example.com", "http://localhost:3000"}, EnvelopeID: "env_1", RecipientID: "rcp_1"}, nil
	}
	for _, tc := range []struct {
		name      string
		api       *fakeAPI
		path      string
		embed     LinkFunc
		ancestors string
		event     string
		origin    string
	}{
		{"form, embeddable", &fakeAPI{status: 200, body: view(nil)}, "/s/" + token, allowed,
			"frame-ancestors https://crm.example.com http://localhost:3000", "", ""},
		{"form, ?origin= allowed", &fakeAPI{status: 200, body: view(nil)}, "/s/" + token + "?origin=http://localhost:3000", allowed,
			"frame-ancestors https://crm.example.com http://localhost:3000", "", "http://localhost:3000"},
		{"form, ?origin= not allowed", &fakeAPI{status: 200, body: view(nil)}, "/s/" + token + "?origin=https://evil.example", allowed,
			"frame-ancestors https://crm.example.com http://localhost:3000", "", ""},
		{"expired link still reports to its embedder", &fakeAPI{status: 410, body: map[string]any{"status": 410, "code": "signing_link_expired"}},
			"/s/" + token, allowed, "frame-ancestors https://crm.example.com http://localhost:3000", "error", ""},
		{"no origins", &fakeAPI{status: 200, body: view(nil)}, "/s/" + token,
			func(context.Context, string) (Link, error) { return Link{}, nil }, "frame-ancestors 'none'", "", ""},
		{"lookup fails closed", &fakeAPI{status: 200, body: view(nil)}, "/s/" + token,
			func(context.Context, string) (Link, error) { return Link{}, errors.New("db down") }, "frame-ancestors 'none'", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := serveEmbedded(t, tc.api, tc.path, tc.embed)
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.HasSuffix(csp, "; "+tc.ancestors) || strings.Count(csp, "frame-ancestors") != 1 {
				t.Errorf("CSP %q, want it to end with %q", csp, tc.ancestors)
			}
			embeddable := tc.ancestors != "frame-ancestors 'none'"
			if xfo := res.Header.Get("X-Frame-Options"); (xfo == "DENY") == embeddable {
				t.Errorf("X-Frame-Options %q with %s", xfo, tc.ancestors)
			}
			if strings.Contains(body, "embed.") != embeddable || strings.Contains(body, "data-embed-origins=") != embeddable {
				t.Errorf("embed script/attributes present = %v, want %v", strings.Contains(body, "embed."), embeddable)
			}
			if embeddable && !strings.Contains(body, `data-envelope-id="env_1" data-recipient-id="rcp_1"`) {
				t.Errorf("page does not carry the ids its events need")
			}
			if got := strings.Contains(body, `data-embed-event="`+tc.event+`"`); tc.event != "" && !got {
				t.Errorf("state page does not report %q", tc.event)
			}
			if tc.event == "" && strings.Contains(body, "data-embed-event") {
				t.Errorf("form page reports an event on load")
			}
			hasOrigin := strings.Contains(body, "data-embed-origin=")
			if (tc.origin != "") != hasOrigin || (tc.origin != "" && !strings.Contains(body, `data-embed-origin="`+tc.origin+`"`)) {
				t.Errorf("data-embed-origin present %v, want %q", hasOrigin, tc.origin)
			}
		})
	}
}
