package signicat_test

import (
	"net/http"
	"net/url"
	"testing"
)

func TestToken_ClientCredentialsInFormOrBasic(t *testing.T) {
	tn := newTenant(t)
	_, id, secret := tn.oauthClient(t)

	r := do(t, form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"signicat-api"}}))
	if r.status != http.StatusOK || r.body["token_type"] != "Bearer" || r.body["expires_in"].(float64) != 3600 ||
		r.body["scope"] != "signicat-api" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("form credentials: %d %v %s", r.status, r.header, r.raw)
	}
	viaForm := r.body["access_token"].(string)

	basic := form(url.Values{"grant_type": {"client_credentials"}})
	basic.basicUser, basic.basicPass = url.QueryEscape(id), url.QueryEscape(secret)
	r = do(t, basic)
	if r.status != http.StatusOK || r.body["scope"] != "signicat-api" {
		t.Fatalf("HTTP Basic credentials: %d %s", r.status, r.raw)
	}
	if r.body["access_token"] == viaForm {
		t.Fatal("two token requests got the same token")
	}
	// Both tokens open /sign/: an unknown path answers 404 after
	// authentication, where no credential answers 401.
	for _, tok := range []string{viaForm, r.body["access_token"].(string)} {
		if got := do(t, req{method: http.MethodGet, path: "/sign/no-such-thing", bearer: tok}); got.status != http.StatusNotFound {
			t.Fatalf("authenticated unknown path: %d %s", got.status, got.raw)
		}
	}
}

func TestToken_ErrorsAreRFC6749(t *testing.T) {
	tn := newTenant(t)
	_, id, secret := tn.oauthClient(t)
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for name, vs := range good {
			out[name] = vs
		}
		if v == "" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
		return out
	}
	bothWays := form(good)
	bothWays.basicUser, bothWays.basicPass = id, secret
	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"wrong secret", form(with("client_secret", "nope")), http.StatusUnauthorized, "invalid_client"},
		{"unknown client", form(with("client_id", "vellum-test-unknown")), http.StatusUnauthorized, "invalid_client"},
		{"no client authentication", form(url.Values{"grant_type": {"client_credentials"}}), http.StatusUnauthorized, "invalid_client"},
		{"other grant", form(with("grant_type", "password")), http.StatusBadRequest, "unsupported_grant_type"},
		{"no grant", form(with("grant_type", "")), http.StatusBadRequest, "invalid_request"},
		{"unknown scope", form(with("scope", "admin")), http.StatusBadRequest, "invalid_scope"},
		{"JSON body", req{method: http.MethodPost, path: "/auth/open/connect/token", contentType: "application/json", body: []byte(`{"grant_type":"client_credentials"}`)}, http.StatusBadRequest, "invalid_request"},
		{"secret in Basic and body", bothWays, http.StatusBadRequest, "invalid_request"},
		{"repeated parameter", req{method: http.MethodPost, path: "/auth/open/connect/token", contentType: "application/x-www-form-urlencoded",
			body: []byte("grant_type=client_credentials&grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret)}, http.StatusBadRequest, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.r)
			if r.status != tc.status || r.body["error"] != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.code)
			}
			if tc.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestSignGroup_AcceptsTokensAndAPIKeysOnly(t *testing.T) {
	tn := newTenant(t)
	tok := tn.token(t)
	for _, tc := range []struct {
		name   string
		bearer string
		want   int
	}{
		{"access token", tok, http.StatusNotFound},
		{"API key", tn.apiKey, http.StatusNotFound},
		{"none", "", http.StatusUnauthorized},
		{"unknown token", "vat_0000000000000000000000000000000000000000000", http.StatusUnauthorized},
		{"unknown key", "sk_test_00000000000000000000000000000000", http.StatusUnauthorized},
		{"garbage", "hello", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, req{method: http.MethodGet, path: "/sign/no-such-thing", bearer: tc.bearer})
			if r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tc.want)
			}
			if tc.want == http.StatusUnauthorized && (r.body["code"] == nil || r.header.Get("WWW-Authenticate") == "") {
				t.Fatalf("401 is not a problem with WWW-Authenticate: %v %s", r.header, r.raw)
			}
		})
	}
}

func TestOAuthClients_RevocationEndsSecretAndTokensAtOnce(t *testing.T) {
	tn := newTenant(t)
	occ, id, secret := tn.oauthClient(t)
	r := do(t, form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}))
	tok := r.body["access_token"].(string)
	if got := do(t, req{method: http.MethodGet, path: "/sign/x", bearer: tok}); got.status != http.StatusNotFound {
		t.Fatalf("before revocation: %d", got.status)
	}

	list := do(t, req{method: http.MethodGet, path: "/api/v1/oauth-clients", bearer: tn.apiKey})
	if list.status != http.StatusOK || list.body["total"].(float64) != 1 {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}
	if _, ok := list.body["data"].([]any)[0].(map[string]any)["clientSecret"]; ok {
		t.Fatal("the list shows the secret")
	}
	// Another tenant can neither see nor revoke it.
	other := newTenant(t)
	if got := do(t, req{method: http.MethodDelete, path: "/api/v1/oauth-clients/" + occ, bearer: other.apiKey}); got.status != http.StatusNotFound {
		t.Fatalf("revoke by another tenant: %d %s", got.status, got.raw)
	}
	if got := do(t, req{method: http.MethodDelete, path: "/api/v1/oauth-clients/" + occ, bearer: tn.apiKey}); got.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", got.status, got.raw)
	}
	if got := do(t, req{method: http.MethodGet, path: "/sign/x", bearer: tok}); got.status != http.StatusUnauthorized {
		t.Fatalf("token after revocation: %d %s", got.status, got.raw)
	}
	r = do(t, form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}))
	if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Fatalf("secret after revocation: %d %s", r.status, r.raw)
	}
	if got := do(t, req{method: http.MethodDelete, path: "/api/v1/oauth-clients/" + occ, bearer: tn.apiKey}); got.status != http.StatusNotFound {
		t.Fatalf("second revocation: %d %s", got.status, got.raw)
	}
}
