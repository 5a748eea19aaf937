package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/idempotency"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/webhook"
)

// pgDump is the test database as pg_dump writes it: every row of every table.
func pgDump(t *testing.T) string {
	t.Helper()
	out, err := env.pg.Dump()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestSecrets_IdempotentCreationsDoNotStoreOrReplaySecrets creates a key, a
// webhook and rotates its secret under Idempotency-Key, replays each, and
// then looks for every secret in a dump of the database: a key secret must
// be nowhere, a webhook secret only in its endpoint's row.
func TestSecrets_IdempotentCreationsDoNotStoreOrReplaySecrets(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hooks := webhook.NewService(env.pg.DB, jobs.NewOutbox(env.pg.DB), webhook.Config{AllowHTTP: true, AllowPrivate: true})
	e, err := httpapi.New(httpapi.Deps{
		Log: quiet, Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Idempotency: idempotency.NewStore(env.pg.DB),
		Mount:       []func(*echo.Echo, *echo.Group){httpapi.KeyRoutes(env.accounts), httpapi.WebhookRoutes(hooks)},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	t.Cleanup(hs.Close)
	s := &testServer{Server: hs}
	tn := newTenant(t)

	type created struct {
		ID             string `json:"id"`
		Secret         string `json:"secret"`
		SecretWithheld bool   `json:"secretWithheld"`
	}
	post := func(path, idemKey, body string) (result, created) {
		c := call{method: http.MethodPost, path: path, key: tn.test, header: map[string]string{"Idempotency-Key": idemKey}}
		if body != "" {
			c.contentType, c.body = "application/json", jsonBody(body)
		}
		r := s.do(t, c)
		var out created
		r.decode(t, &out)
		return r, out
	}

	var secrets []string
	check := func(path, idemKey, body string, status int) created {
		first, got := post(path, idemKey, body)
		if first.status != status || got.Secret == "" || got.SecretWithheld {
			t.Fatalf("POST %s: %d %s, want %d with its secret", path, first.status, first.body, status)
		}
		again, rep := post(path, idemKey, body)
		if again.status != status || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay of POST %s: %d %v %s", path, again.status, again.header, again.body)
		}
		if rep.Secret != "" || !rep.SecretWithheld || rep.ID != got.ID {
			t.Errorf("replay of POST %s = %s; want the same object, no secret, secretWithheld", path, again.body)
		}
		secrets = append(secrets, got.Secret)
		return got
	}
	check("/api/v1/keys", "key-1", `{"name":"ci"}`, http.StatusCreated)
	hook := check("/api/v1/webhooks", "hook-1", `{"url":"http://127.0.0.1:9/hook"}`, http.StatusCreated)
	check("/api/v1/webhooks/"+hook.ID+"/rotate-secret", "rotate-1", "", http.StatusOK)

	dump := pgDump(t)
	if !strings.Contains(dump, "hook-1") {
		t.Fatal("the dump does not hold the idempotency records: it cannot prove anything")
	}
	// The key secret is nowhere; a webhook secret (which signs every
	// delivery, so is kept readable) only on its endpoint's line.
	if strings.Contains(dump, secrets[0]) {
		t.Errorf("the API key secret is stored in the database")
	}
	for _, sec := range secrets[1:] {
		for _, line := range strings.Split(dump, "\n") {
			if strings.Contains(line, sec) && !strings.HasPrefix(line, "INSERT INTO public.webhook_endpoints VALUES ('"+hook.ID+"'") {
				t.Errorf("webhook secret stored outside its endpoint: %.120s", line)
			}
		}
	}
}

// TestSecrets_MigrationScrubsStoredSecrets runs migration 0050 over rows as
// earlier versions wrote them.
func TestSecrets_MigrationScrubsStoredSecrets(t *testing.T) {
	ctx := context.Background()
	tn := newTenant(t)
	conn := env.pg.DB.Conn(ctx)
	for _, path := range []string{"/api/v1/keys", "/api/v1/webhooks", "/api/v1/webhooks/wh_1/rotate-secret", "/api/v1/documents"} {
		err := conn.Exec(`INSERT INTO idempotency_keys (api_key_id, key, method, path, status, response_body, locked_until, created_at, expires_at)
			VALUES (?, ?, 'POST', ?, 'done', ?, now(), now(), now() + interval '1 day')`,
			tn.testKey.ID, "legacy"+path, path, []byte(`{"secret":"sk_test_legacy"}`)).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	payload := `{"type":"recipient.signed","timestamp":"2026-01-01T00:00:00Z","data":{"id":"env_1","recipients":[` +
		`{"id":"r1","status":"SIGNED","fields":[]},` +
		`{"id":"r2","status":"NOTIFIED","signUrl":"http://x/s/LIVE-TOKEN-A","fields":[]},` +
		`{"id":"r3","signUrl":"http://x/s/LIVE-TOKEN-B"}]}}`
	evID := "ev_legacy_" + strings.ReplaceAll(t.Name(), "/", "_")
	if err := conn.Exec(`INSERT INTO webhook_events (id, account_id, environment, type, payload, occurred_at, created_at)
		VALUES (?, ?, 'test', 'recipient.signed', ?, now(), now())`, evID, tn.account.ID, []byte(payload)).Error; err != nil {
		t.Fatal(err)
	}
	migs, err := env.pg.DB.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	for _, m := range migs {
		if m.Version == 50 {
			if err := conn.Exec(m.SQL).Error; err != nil {
				t.Fatalf("migration %s: %v", m.Name, err)
			}
			ran = true
		}
	}
	if !ran {
		t.Fatal("no migration 0050")
	}
	var paths []string
	if err := conn.Raw("SELECT path FROM idempotency_keys WHERE api_key_id = ? ORDER BY path", tn.testKey.ID).Scan(&paths).Error; err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1 || paths[0] != "/api/v1/documents" {
		t.Errorf("idempotency records left: %v, want only the document upload's", paths)
	}
	var body []byte
	if err := conn.Raw("SELECT payload FROM webhook_events WHERE id = ?", evID).Row().Scan(&body); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Data struct {
			Recipients []map[string]any `json:"recipients"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("scrubbed payload is not JSON: %v: %s", err, body)
	}
	if strings.Contains(string(body), "LIVE-TOKEN") || len(v.Data.Recipients) != 3 || v.Data.Recipients[1]["status"] != "NOTIFIED" {
		t.Errorf("scrubbed payload = %s", body)
	}
}
