package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

// TestDev_WebhooksCarryADocumentAndEnvelopeLife registers a receiver with
// `vellum dev`, runs a document and an envelope through their lives and
// checks every event arrives signed, verifiable with pkg/webhookverify.
func TestDev_WebhooksCarryADocumentAndEnvelopeLife(t *testing.T) {
	var mu sync.Mutex
	var got []string
	var verifier *webhookverify.Verifier
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if verifier == nil {
			w.WriteHeader(http.StatusServiceUnavailable) // not registered yet: retried
			return
		}
		if err := verifier.Verify(body, r.Header); err != nil {
			t.Errorf("delivery does not verify: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var evt struct {
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &evt); err != nil || evt.Data.ID == "" {
			t.Errorf("payload %s: %v", body, err)
		}
		got = append(got, evt.Type)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	c := startDev(t)
	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	c.postJSON("/api/v1/webhooks", map[string]any{"url": recv.URL + "/hooks"}, http.StatusCreated, &hook)
	v, err := webhookverify.New(hook.Secret)
	if err != nil {
		t.Fatalf("secret %q: %v", hook.Secret, err)
	}
	mu.Lock()
	verifier = v
	mu.Unlock()

	doc := c.uploadFixture("test.pdf")
	env := c.sendEnvelope(map[string]any{
		"subject": "Webhook life", "documentIds": []string{doc},
		"recipients": []map[string]any{{"email": "hook@example.com", "name": "Hook Signer", "role": "SIGNER"}},
	})
	tok := env.Recipients[0].SignURL[strings.LastIndex(env.Recipients[0].SignURL, "/")+1:]
	c.call(http.MethodGet, "/api/v1/signer/"+tok, "", nil, http.StatusOK, nil)
	c.postJSON("/api/v1/signer/"+tok+"/sign", map[string]any{
		"consent": true, "signature": map[string]any{"type": "typed", "text": "Hook Signer"},
	}, http.StatusOK, nil)
	deadline := time.Now().Add(2 * time.Minute)
	for c.envelope(env.ID).Status != "COMPLETED" {
		if time.Now().After(deadline) {
			t.Fatal("envelope not COMPLETED within 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.call(http.MethodDelete, "/api/v1/documents/"+doc, "", nil, http.StatusNoContent, nil)

	want := []string{"document.uploaded", "envelope.created", "envelope.sent", "recipient.viewed",
		"recipient.signed", "envelope.completed", "document.deleted"}
	for {
		mu.Lock()
		missing := []string{}
		for _, w := range want {
			if !slices.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		seen := slices.Clone(got)
		mu.Unlock()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events missing after 2 minutes: %v (got %v)", missing, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
