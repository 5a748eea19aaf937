package envelope_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func recipientID(t *testing.T, c *client, id, email string) string {
	t.Helper()
	for _, r := range c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil).json(t)["recipients"].([]any) {
		if rm := r.(map[string]any); rm["email"] == email {
			return rm["id"].(string)
		}
	}
	t.Fatalf("no recipient %s in %s", email, id)
	return ""
}

func TestRemind_ExpiredLinkComesBackWithANewToken(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(nil)
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	old := c.tokenOf(id, "signer@example.com")
	if err := h.pg.DB.Conn(context.Background()).Exec(`UPDATE signing_sessions SET expires_at = ? WHERE envelope_id = ?`,
		time.Now().Add(-time.Minute), id).Error; err != nil {
		t.Fatal(err)
	}
	if r := do(t, "", http.MethodGet, "/api/v1/signer/"+old, nil); r.status != http.StatusGone {
		t.Fatalf("expired link: %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/remind", nil); r.status != http.StatusOK {
		t.Fatalf("remind: %d %s", r.status, r.body)
	}
	if r := do(t, "", http.MethodGet, "/api/v1/signer/"+old, nil); r.status != http.StatusNotFound {
		t.Errorf("the expired link after a reminder: %d %s, want 404 (not revived)", r.status, r.body)
	}
	fresh := c.tokenOf(id, "signer@example.com")
	if fresh == old {
		t.Fatal("the reminder kept the expired token")
	}
	if r := do(t, "", http.MethodGet, "/api/v1/signer/"+fresh, nil); r.status != http.StatusOK {
		t.Errorf("the reminder's new link: %d %s", r.status, r.body)
	}
}

func TestRotateLink_OldTokenDiesNewOneWorks(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"recipients": []map[string]any{
		{"email": "signer@example.com", "name": "Sam Signer", "role": "SIGNER"},
		{"email": "cc@example.com", "name": "Cee", "role": "CC"},
	}})
	rid := recipientID(t, c, id, "signer@example.com")
	rotate := func(rid string) response {
		return c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/recipients/"+rid+"/rotate-link", nil)
	}
	if r := rotate(rid); r.status != http.StatusConflict || r.json(t)["code"] != "invalid_state" {
		t.Errorf("rotate on a DRAFT: %d %s", r.status, r.body)
	}
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	old := c.tokenOf(id, "signer@example.com")
	r := rotate(rid)
	if r.status != http.StatusOK {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	fresh := c.tokenOf(id, "signer@example.com")
	if fresh == old || !strings.Contains(string(r.body), fresh) {
		t.Fatalf("rotation kept the token or did not answer the new signUrl: %s", r.body)
	}
	if r := do(t, "", http.MethodGet, "/api/v1/signer/"+old, nil); r.status != http.StatusNotFound {
		t.Errorf("rotated-out link: %d %s", r.status, r.body)
	}
	if r := do(t, "", http.MethodGet, "/api/v1/signer/"+fresh, nil); r.status != http.StatusOK {
		t.Errorf("new link: %d %s", r.status, r.body)
	}
	if r := rotate("rcp_nope"); r.status != http.StatusNotFound || r.json(t)["code"] != "recipient_not_found" {
		t.Errorf("unknown recipient: %d %s", r.status, r.body)
	}
	if r := rotate(recipientID(t, c, id, "cc@example.com")); r.status != http.StatusConflict || r.json(t)["code"] != "recipient_has_no_link" {
		t.Errorf("CC recipient: %d %s", r.status, r.body)
	}
	assertEventTypes(t, c, id, "recipient.link_rotated")
}

func assertEventTypes(t *testing.T, c *client, id string, want string) {
	t.Helper()
	for _, e := range c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/events", nil).json(t)["data"].([]any) {
		if e.(map[string]any)["type"] == want {
			return
		}
	}
	t.Errorf("no %s event in %s", want, id)
}

func TestAccessCode_LockoutEndsWithTimeAndTheSenderCanLiftIt(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"recipients": []map[string]any{
		{"email": "code@example.com", "name": "Cody", "role": "APPROVER", "auth": map[string]any{"method": "ACCESS_CODE", "accessCode": "tulip-42"}},
	}})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	tok := c.tokenOf(id, "code@example.com")
	approve := func(code string) response {
		return do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{"consent": true, "accessCode": code})
	}
	lockOut := func() {
		t.Helper()
		for i := 1; i < 5; i++ {
			if r := approve("wrong"); r.status != http.StatusForbidden {
				t.Fatalf("wrong code %d: %d %s", i, r.status, r.body)
			}
		}
		if r := approve("wrong"); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("fifth wrong code: %d %v %s", r.status, r.header, r.body)
		}
		if r := approve("tulip-42"); r.status != http.StatusTooManyRequests {
			t.Fatalf("right code while locked: %d %s", r.status, r.body)
		}
	}
	lockOut()
	// The lockout ends with time: move its end into the past.
	if err := h.pg.DB.Conn(context.Background()).Exec(`UPDATE signing_sessions SET auth_locked_until = ? WHERE envelope_id = ?`,
		time.Now().Add(-time.Second), id).Error; err != nil {
		t.Fatal(err)
	}
	if r := approve("wrong"); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "1 of 5") {
		t.Fatalf("after the lockout: %d %s, want a fresh set of attempts", r.status, r.body)
	}
	for i := 2; i < 5; i++ {
		approve("wrong")
	}
	if r := approve("wrong"); r.status != http.StatusTooManyRequests {
		t.Fatalf("second lockout: %d %s", r.status, r.body)
	}
	rid := recipientID(t, c, id, "code@example.com")
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/recipients/"+rid+"/unlock", nil); r.status != http.StatusOK {
		t.Fatalf("unlock: %d %s", r.status, r.body)
	}
	if r := approve("tulip-42"); r.status != http.StatusOK {
		t.Errorf("right code after the sender unlocked: %d %s", r.status, r.body)
	}
}
