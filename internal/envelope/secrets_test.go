package envelope_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/webhook"
)

// TestSecrets_EventPayloadsCarryNoLiveSigningLinks signs for one of two
// parallel signers of an envelope whose account has a webhook: the stored
// event payloads (and the whole database) must not hold the other signer's
// live link, which is a credential.
func TestSecrets_EventPayloadsCarryNoLiveSigningLinks(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	if _, err := h.hooks.Create(ctx, c.scope, webhook.CreateInput{URL: "http://127.0.0.1:9/hook"}); err != nil {
		t.Fatal(err)
	}
	id, _ := c.draft(map[string]any{"recipients": []map[string]any{
		{"email": "a@example.com", "name": "Ann", "role": "SIGNER"},
		{"email": "b@example.com", "name": "Bob", "role": "SIGNER"},
	}})
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	tokA, tokB := c.tokenOf(id, "a@example.com"), c.tokenOf(id, "b@example.com")
	sign := map[string]any{"consent": true, "signature": map[string]any{"type": "typed", "text": "Ann"}}
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tokA+"/sign", sign); r.status != http.StatusOK {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	var payloads []string
	err := h.pg.DB.Conn(ctx).Raw(`SELECT convert_from(payload, 'UTF8') FROM webhook_events
		WHERE account_id = ? AND type IN ('envelope.sent', 'recipient.signed')`, c.scope.AccountID).Scan(&payloads).Error
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) != 2 {
		t.Fatalf("%d stored envelope.sent/recipient.signed events, want 2", len(payloads))
	}
	for _, p := range payloads {
		if strings.Contains(p, "signUrl") || strings.Contains(p, tokB) {
			t.Errorf("stored event payload carries a signing link: %.300s", p)
		}
	}
	out, err := h.pg.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), id) {
		t.Fatal("the dump does not hold the envelope: it proves nothing")
	}
	for _, tok := range []string{tokA, tokB} {
		if strings.Contains(string(out), tok) {
			t.Errorf("a signing token is stored in the database")
		}
	}
}
