package envelope_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/mail/mailtest"
)

// draft creates a DRAFT envelope over one fresh document.
func (c *client) draft(body map[string]any) (string, string) {
	c.t.Helper()
	doc := c.upload("doc.pdf", samplePDF("Agreement", 1))
	if body == nil {
		body = map[string]any{}
	}
	if _, ok := body["subject"]; !ok {
		body["subject"] = "Agreement " + c.t.Name()
	}
	body["documentIds"] = []string{doc}
	if _, ok := body["recipients"]; !ok {
		body["recipients"] = []map[string]any{{"email": "signer@example.com", "name": "Sam Signer", "role": "SIGNER"}}
	}
	r := c.do(http.MethodPost, "/api/v1/envelopes", body)
	if r.status != http.StatusCreated {
		c.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.json(c.t)["id"].(string), doc
}

func TestCreate_CertyneoQuickstartBodyWorksAsIs(t *testing.T) {
	c := newClient(t)
	doc := c.upload("contrat.pdf", samplePDF("Contrat", 1))
	body := `{
    "subject": "Contrat de prestation",
    "documentIds": ["` + doc + `"],
    "recipients": [
      { "email": "client@example.com", "name": "Marie Dubois", "role": "SIGNER" }
    ]
  }`
	r := c.do(http.MethodPost, "/api/v1/envelopes", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	env := r.json(t)
	if env["status"] != "DRAFT" || env["signingOrder"] != "PARALLEL" || r.header.Get("Location") != "/api/v1/envelopes/"+env["id"].(string) {
		t.Fatalf("created: %v %v", env, r.header)
	}
	rcp := env["recipients"].([]any)[0].(map[string]any)
	if rcp["order"] != float64(1) || rcp["status"] != "PENDING" || rcp["auth"].(map[string]any)["method"] != "NONE" {
		t.Errorf("recipient defaults: %v", rcp)
	}
	s := c.do(http.MethodPost, "/api/v1/envelopes/"+env["id"].(string)+"/send", nil)
	if s.status != http.StatusOK {
		t.Fatalf("send: %d %s", s.status, s.body)
	}
	sent := s.json(t)
	if sent["status"] != "SENT" || sent["sentAt"] == nil {
		t.Errorf("sent: %v", sent)
	}
	if u, _ := sent["recipients"].([]any)[0].(map[string]any)["signUrl"].(string); !strings.HasPrefix(u, h.base+"/s/") || len(u) < len(h.base)+3+43 {
		t.Errorf("signUrl %q", u)
	}
	if _, err := h.smtp.Wait(30*time.Second, mailtest.To("client@example.com", "Contrat de prestation")); err != nil {
		t.Errorf("invitation: %v", err)
	}
}

func TestCreate_ListsEveryInvalidFieldAtOnce(t *testing.T) {
	c := newClient(t)
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
		"subject": "", "documentIds": []string{"doc_missing"}, "signingOrder": "RANDOM",
		"expiresAt": time.Now().Add(60 * 24 * time.Hour).Format(time.RFC3339), "signatureUrlTimeToLive": "P90D",
		"recipients": []map[string]any{
			{"email": "not-an-email", "name": "", "role": "BOSS"},
			{"email": "a@example.com", "name": "A", "role": "SIGNER", "auth": map[string]any{"method": "ACCESS_CODE"},
				"fields": []map[string]any{{"documentId": "doc_other", "type": "STAMP", "page": 0, "x": 1, "y": 1, "width": 0, "height": 10}}},
		},
		"redirects": map[string]any{"success": "javascript:alert(1)"}, "bogus": 1,
	})
	if r.status != http.StatusBadRequest {
		t.Fatalf("want 400, got %d %s", r.status, r.body)
	}
	got := map[string]bool{}
	for _, p := range r.json(t)["invalidParams"].([]any) {
		got[p.(map[string]any)["name"].(string)] = true
	}
	for _, want := range []string{"bogus"} {
		if !got[want] {
			t.Errorf("invalidParams lack %s: %v", want, got)
		}
	}
	// Unknown top-level fields are reported by the decoder first; without
	// them every domain rule is reported at once.
	r = c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
		"subject": "", "documentIds": []string{"doc_missing"}, "signingOrder": "RANDOM",
		"expiresAt": time.Now().Add(60 * 24 * time.Hour).Format(time.RFC3339), "signatureUrlTimeToLive": "P90D",
		"recipients": []map[string]any{
			{"email": "not-an-email", "name": "", "role": "BOSS"},
			{"email": "a@example.com", "name": "A", "role": "SIGNER", "auth": map[string]any{"method": "ACCESS_CODE"},
				"fields": []map[string]any{{"documentId": "doc_other", "type": "STAMP", "page": 0, "x": 1, "y": 1, "width": 0, "height": 10}}},
		},
		"redirects": map[string]any{"success": "javascript:alert(1)"},
	})
	got = map[string]bool{}
	for _, p := range r.json(t)["invalidParams"].([]any) {
		got[p.(map[string]any)["name"].(string)] = true
	}
	for _, want := range []string{"subject", "documentIds[0]", "signingOrder", "expiresAt", "signatureUrlTimeToLive",
		"recipients[0].email", "recipients[0].name", "recipients[0].role", "recipients[1].auth.accessCode",
		"recipients[1].fields[0].type", "recipients[1].fields[0].documentId", "recipients[1].fields[0].page",
		"recipients[1].fields[0].width", "redirects.success"} {
		if !got[want] {
			t.Errorf("invalidParams lack %s: %v", want, got)
		}
	}
	// Nothing was stored.
	l := c.do(http.MethodGet, "/api/v1/envelopes", nil).json(t)
	if l["total"] != float64(0) {
		t.Errorf("a rejected create stored something: %v", l)
	}
}

func TestTransitions_IllegalOnesAnswer409WithCurrentState(t *testing.T) {
	c := newClient(t)
	id, doc := c.draft(nil)
	// DRAFT: no signed document, no audit trail, nothing to remind.
	for _, path := range []string{"/signed-document", "/audit-trail"} {
		if r := c.do(http.MethodGet, "/api/v1/envelopes/"+id+path, nil); r.status != http.StatusConflict || r.json(t)["currentState"] != "DRAFT" {
			t.Errorf("GET %s on DRAFT: %d %s", path, r.status, r.body)
		}
	}
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/remind", nil); r.status != http.StatusConflict {
		t.Errorf("remind DRAFT: %d", r.status)
	}
	// A document used by a non-final envelope cannot be deleted.
	if r := c.do(http.MethodDelete, "/api/v1/documents/"+doc, nil); r.status != http.StatusConflict {
		t.Errorf("delete used document: %d %s", r.status, r.body)
	}
	// PATCH works on DRAFT, with If-Match.
	g := c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil)
	etag := g.header.Get("ETag")
	r := doWithHeader(t, c.key, http.MethodPatch, "/api/v1/envelopes/"+id, map[string]any{"subject": "Renamed"}, "If-Match", `"v999"`)
	if r.status != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d", r.status)
	}
	r = doWithHeader(t, c.key, http.MethodPatch, "/api/v1/envelopes/"+id, map[string]any{"subject": "Renamed"}, "If-Match", etag)
	if r.status != http.StatusOK || r.json(t)["subject"] != "Renamed" {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	for name, call := range map[string]func() response{
		"send twice": func() response { return c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil) },
		"patch sent": func() response {
			return c.do(http.MethodPatch, "/api/v1/envelopes/"+id, map[string]any{"subject": "x"})
		},
		"signed doc": func() response { return c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil) },
	} {
		r := call()
		if r.status != http.StatusConflict {
			t.Errorf("%s: %d %s", name, r.status, r.body)
			continue
		}
		p := r.json(t)
		if p["currentState"] != "SENT" || p["code"] != "invalid_state" || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %v", name, p)
		}
	}
	// The interim audit trail is available once SENT.
	if r := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/audit-trail", nil); r.status != http.StatusOK || r.header.Get("Audit-Trail-Sealed") != "false" {
		t.Errorf("interim audit trail: %d", r.status)
	}
	// DELETE on SENT voids; again is 409 VOIDED.
	r = c.do(http.MethodDelete, "/api/v1/envelopes/"+id, map[string]any{"reason": "wrong counterparty"})
	if r.status != http.StatusOK || r.json(t)["status"] != "VOIDED" {
		t.Fatalf("void: %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodDelete, "/api/v1/envelopes/"+id, nil); r.status != http.StatusConflict || r.json(t)["currentState"] != "VOIDED" {
		t.Errorf("void twice: %d %s", r.status, r.body)
	}
	// Deleting a DRAFT removes it.
	id2, _ := c.draft(nil)
	if r := c.do(http.MethodDelete, "/api/v1/envelopes/"+id2, nil); r.status != http.StatusNoContent {
		t.Errorf("delete draft: %d", r.status)
	}
	if r := c.do(http.MethodGet, "/api/v1/envelopes/"+id2, nil); r.status != http.StatusNotFound {
		t.Errorf("deleted draft: %d", r.status)
	}
}

func doWithHeader(t *testing.T, key, method, path string, body any, name, value string) response {
	t.Helper()
	return doH(t, key, method, path, body, map[string]string{name: value})
}

func TestScope_OtherAccountsAndEnvironmentsSeeNothing(t *testing.T) {
	a, b := newClient(t), newClient(t)
	id, _ := a.draft(nil)
	for _, path := range []string{"", "/events", "/audit-trail"} {
		if r := b.do(http.MethodGet, "/api/v1/envelopes/"+id+path, nil); r.status != http.StatusNotFound {
			t.Errorf("other account GET %s: %d", path, r.status)
		}
	}
	if r := b.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusNotFound {
		t.Errorf("other account send: %d", r.status)
	}
	if l := b.do(http.MethodGet, "/api/v1/envelopes", nil).json(t); l["total"] != float64(0) {
		t.Errorf("other account lists %v", l["total"])
	}
	// A document of another account cannot be used.
	doc := b.upload("b.pdf", samplePDF("B", 1))
	r := a.do(http.MethodPost, "/api/v1/envelopes", map[string]any{"subject": "x", "documentIds": []string{doc},
		"recipients": []map[string]any{{"email": "s@example.com", "name": "S"}}})
	if r.status != http.StatusBadRequest {
		t.Errorf("foreign document: %d", r.status)
	}
}

func TestList_FiltersByStatusSubjectAndReference(t *testing.T) {
	c := newClient(t)
	id1, _ := c.draft(map[string]any{"subject": "Lease for flat 3", "externalReference": "crm-1"})
	id2, _ := c.draft(map[string]any{"subject": "Employment contract"})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id2+"/send", nil)
	cases := map[string][]string{
		"?status=DRAFT":             {id1},
		"?status=SENT&status=DRAFT": {id1, id2},
		"?subjectLike=lease":        {id1},
		"?externalReference=crm-1":  {id1},
		"?status=COMPLETED":         {},
		"?sort=createdAt&limit=1":   {id1},
	}
	for q, want := range cases {
		r := c.do(http.MethodGet, "/api/v1/envelopes"+q, nil)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d %s", q, r.status, r.body)
			continue
		}
		var got []string
		for _, e := range r.json(t)["data"].([]any) {
			got = append(got, e.(map[string]any)["id"].(string))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") && !(len(want) == 2 && len(got) == 2) {
			t.Errorf("%s: got %v want %v", q, got, want)
		}
	}
	if r := c.do(http.MethodGet, "/api/v1/envelopes?status=LOST&limit=0", nil); r.status != http.StatusBadRequest || len(r.json(t)["invalidParams"].([]any)) != 2 {
		t.Errorf("bad filters: %d %s", r.status, r.body)
	}
}

// sessionToken returns the signing token of a recipient straight from the
// service (as the invitation would carry it), even before their turn.
func sessionToken(t *testing.T, recipientEmail, envelopeID string) string {
	t.Helper()
	var ss envelope.Session
	err := h.pg.DB.Conn(context.Background()).Raw(`SELECT s.* FROM signing_sessions s JOIN envelope_recipients r ON r.id = s.recipient_id
		WHERE s.envelope_id = ? AND r.email = ?`, envelopeID, recipientEmail).Scan(&ss).Error
	if err != nil || ss.ID == "" {
		t.Fatalf("session of %s: %v", recipientEmail, err)
	}
	u := h.svc.SignURL(&ss)
	return u[strings.LastIndex(u, "/s/")+3:]
}

func TestSignerToken_Rules(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"signingOrder": "SEQUENTIAL", "recipients": []map[string]any{
		{"email": "first@example.com", "name": "First", "role": "SIGNER", "order": 1},
		{"email": "second@example.com", "name": "Second", "role": "SIGNER", "order": 2},
	}})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	tok1 := c.tokenOf(id, "first@example.com")
	tok2 := sessionToken(t, "second@example.com", id)
	sign := map[string]any{"consent": true, "signature": map[string]any{"type": "typed", "text": "Me"}}

	if r := do(t, "", http.MethodGet, "/api/v1/signer/not-a-token", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown token: %d", r.status)
	}
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok2+"/sign", sign); r.status != http.StatusConflict || r.json(t)["code"] != "not_your_turn" {
		t.Errorf("sequential signer before turn: %d %s", r.status, r.body)
	}
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok1+"/sign", map[string]any{"consent": false}); r.status != http.StatusBadRequest {
		t.Errorf("no consent: %d", r.status)
	}
	// Opening records recipient.viewed once.
	do(t, "", http.MethodGet, "/api/v1/signer/"+tok1, nil)
	v := do(t, "", http.MethodGet, "/api/v1/signer/"+tok1, nil).json(t)
	if v["recipient"].(map[string]any)["status"] != "OPENED" || v["session"].(map[string]any)["canSign"] != true {
		t.Errorf("view: %v", v)
	}
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok1+"/sign", sign); r.status != http.StatusOK {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok1+"/sign", sign); r.status != http.StatusConflict || r.json(t)["code"] != "recipient_already_signed" {
		t.Errorf("sign twice: %d %s", r.status, r.body)
	}
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok1+"/decline", map[string]any{"reason": "changed my mind"}); r.status != http.StatusConflict {
		t.Errorf("decline after signing: %d", r.status)
	}
	// Once the first signature is applied the second signer's turn comes.
	c.tokenOf(id, "second@example.com")
	// Void: the link is gone.
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/void", map[string]any{"reason": "superseded"})
	if r := do(t, "", http.MethodGet, "/api/v1/signer/"+tok2, nil); r.status != http.StatusGone || r.json(t)["code"] != "envelope_voided" {
		t.Errorf("token of voided envelope: %d %s", r.status, r.body)
	}
	views := 0
	for _, e := range c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/events", nil).json(t)["data"].([]any) {
		if e.(map[string]any)["type"] == "recipient.viewed" {
			views++
			if e.(map[string]any)["userAgent"] == "" || e.(map[string]any)["ip"] == "" {
				t.Errorf("viewed event without IP/UA: %v", e)
			}
		}
	}
	if views != 1 {
		t.Errorf("%d recipient.viewed events, want 1", views)
	}
}

func TestSignerToken_ExpiredSessionIsGone(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"signatureUrlTimeToLive": "PT5M"})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	tok := c.tokenOf(id, "signer@example.com")
	if err := h.pg.DB.Conn(context.Background()).Exec(`UPDATE signing_sessions SET expires_at = ? WHERE envelope_id = ?`,
		time.Now().Add(-time.Minute), id).Error; err != nil {
		t.Fatal(err)
	}
	if r := do(t, "", http.MethodGet, "/api/v1/signer/"+tok, nil); r.status != http.StatusGone || r.json(t)["code"] != "signing_link_expired" {
		t.Errorf("expired link: %d %s", r.status, r.body)
	}
}

func TestOTP_EmailCodeGuardsSigning(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"recipients": []map[string]any{
		{"email": "otp@example.com", "name": "Otto", "role": "SIGNER", "auth": map[string]any{"method": "EMAIL_OTP"}},
		{"email": "code@example.com", "name": "Cody", "role": "APPROVER", "auth": map[string]any{"method": "ACCESS_CODE", "accessCode": "tulip-42"}},
	}})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	tok := c.tokenOf(id, "otp@example.com")
	sign := func(otp string) response {
		return do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{"consent": true,
			"signature": map[string]any{"type": "typed", "text": "Otto"}, "otp": otp})
	}
	if r := sign(""); r.status != http.StatusForbidden {
		t.Errorf("no code: %d", r.status)
	}
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/otp", nil); r.status != http.StatusOK {
		t.Fatalf("otp: %d %s", r.status, r.body)
	}
	m, err := h.smtp.Wait(30*time.Second, mailtest.To("otp@example.com", "Your signing code"))
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`code is (\d{6})`).FindStringSubmatch(m.Text)
	if code == nil {
		t.Fatalf("no code in %q", m.Text)
	}
	wrong := "000000"
	if code[1] == wrong {
		wrong = "111111"
	}
	if r := sign(wrong); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "1 of 5") {
		t.Errorf("wrong code: %d %s", r.status, r.body)
	}
	if r := sign(code[1]); r.status != http.StatusOK {
		t.Errorf("right code: %d %s", r.status, r.body)
	}
	tokC := c.tokenOf(id, "code@example.com")
	approve := func(code string) response {
		return do(t, "", http.MethodPost, "/api/v1/signer/"+tokC+"/sign", map[string]any{"consent": true, "accessCode": code})
	}
	if r := approve("tulip-41"); r.status != http.StatusForbidden {
		t.Errorf("wrong access code: %d", r.status)
	}
	if r := approve("tulip-42"); r.status != http.StatusOK {
		t.Errorf("right access code: %d %s", r.status, r.body)
	}
	c.waitStatus(id, "COMPLETED")
}

func TestDecline_EndsEnvelopeWithMailsAndEvents(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"subject": "Decline me", "recipients": []map[string]any{
		{"email": "d1@example.com", "name": "Dee", "role": "SIGNER"},
		{"email": "d2@example.com", "name": "Dan", "role": "SIGNER"},
	}})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	tok := c.tokenOf(id, "d1@example.com")
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/decline", map[string]any{"reason": ""}); r.status != http.StatusBadRequest {
		t.Errorf("decline without reason: %d", r.status)
	}
	r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/decline", map[string]any{"reason": "Price is wrong"})
	if r.status != http.StatusOK {
		t.Fatalf("decline: %d %s", r.status, r.body)
	}
	env := c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil).json(t)
	if env["status"] != "DECLINED" {
		t.Fatalf("status %v", env["status"])
	}
	for _, who := range []string{"d1@example.com", "d2@example.com", "owner@acme.test"} {
		m, err := h.smtp.Wait(30*time.Second, mailtest.To(who, "Declined: Decline me"))
		if err != nil {
			t.Errorf("decline mail to %s: %v", who, err)
		} else if !strings.Contains(m.Text, "Price is wrong") {
			t.Errorf("decline mail lacks the reason: %s", m.Text)
		}
	}
	assertEvents(t, c, id, "recipient.declined", "envelope.declined")
	waitSealed(t, c, id)
}

func TestVoid_EndsEnvelopeWithMailsAndEvents(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"subject": "Void me"})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	if _, err := h.smtp.Wait(30*time.Second, mailtest.To("signer@example.com", "Please sign: Void me")); err != nil {
		t.Fatal(err)
	}
	c.tokenOf(id, "signer@example.com")
	r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/void", map[string]any{"reason": "Sent by mistake"})
	if r.status != http.StatusOK || r.json(t)["voidReason"] != "Sent by mistake" {
		t.Fatalf("void: %d %s", r.status, r.body)
	}
	m, err := h.smtp.Wait(30*time.Second, mailtest.To("signer@example.com", "Cancelled: Void me"))
	if err != nil || !strings.Contains(m.Text, "Sent by mistake") {
		t.Errorf("void mail: %v %q", err, m.Text)
	}
	assertEvents(t, c, id, "envelope.voided")
	waitSealed(t, c, id)
}

func TestExpiry_SweepExpiresEnvelopeWithMailsAndEvents(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"subject": "Expire me", "expiresAt": time.Now().Add(time.Hour).Format(time.RFC3339)})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	c.tokenOf(id, "signer@example.com")
	if err := h.pg.DB.Conn(context.Background()).Exec(`UPDATE envelopes SET expires_at = ? WHERE id = ?`, time.Now().Add(-time.Second), id).Error; err != nil {
		t.Fatal(err)
	}
	res, err := h.svc.Sweep(context.Background())
	if err != nil || res.Expired < 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	env := c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil).json(t)
	if env["status"] != "EXPIRED" || env["expiredAt"] == nil {
		t.Fatalf("after sweep: %v", env["status"])
	}
	if _, err := h.smtp.Wait(30*time.Second, mailtest.To("signer@example.com", "Expired: Expire me")); err != nil {
		t.Error(err)
	}
	assertEvents(t, c, id, "envelope.expired")
	waitSealed(t, c, id)
}

func TestRemind_ResendsInvitationsToPendingSigners(t *testing.T) {
	c := newClient(t)
	id, _ := c.draft(map[string]any{"subject": "Remind me", "reminderIntervalHours": 24})
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/remind", nil); r.status != http.StatusOK {
		t.Fatalf("remind: %d %s", r.status, r.body)
	}
	if _, err := h.smtp.Wait(30*time.Second, mailtest.To("signer@example.com", "Reminder: Please sign: Remind me")); err != nil {
		t.Error(err)
	}
	// The sweep reminds again once the interval has passed.
	h.pg.DB.Conn(context.Background()).Exec(`UPDATE envelopes SET last_reminder_at = ? WHERE id = ?`, time.Now().Add(-25*time.Hour), id)
	if res, err := h.svc.Sweep(context.Background()); err != nil || res.RemindersQueued < 1 {
		t.Errorf("sweep reminders: %+v %v", res, err)
	}
}

func assertEvents(t *testing.T, c *client, id string, types ...string) {
	t.Helper()
	var got []string
	for _, e := range c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/events", nil).json(t)["data"].([]any) {
		got = append(got, e.(map[string]any)["type"].(string))
	}
	for _, want := range types {
		if !strings.Contains(strings.Join(got, ","), want) {
			t.Errorf("events lack %s: %v", want, got)
		}
	}
}

// waitSealed waits for the sealed audit trail of an ended envelope.
func waitSealed(t *testing.T, c *client, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/audit-trail", nil)
		if r.status == http.StatusOK && r.header.Get("Audit-Trail-Sealed") == "true" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("audit trail of %s never sealed", id)
}

// TestApplySignature_RunsTwiceConcurrentlyOrAfterACrash_SignsOnce races the
// worker with three extra runs of the signing step, one of which "crashes"
// after writing its revisions but before committing; each document still
// ends with exactly one signature per signer.
func TestApplySignature_RunsTwiceConcurrentlyOrAfterACrash_SignsOnce(t *testing.T) {
	c := newClient(t)
	doc1 := c.upload("one.pdf", samplePDF("One", 1))
	doc2 := c.upload("two.pdf", samplePDF("Two", 1))
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{"subject": "Race", "documentIds": []string{doc1, doc2},
		"recipients": []map[string]any{{"email": "p1@example.com", "name": "Pat One"}, {"email": "p2@example.com", "name": "Pat Two"}}})
	id := r.json(t)["id"].(string)
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	var rids []string
	for _, x := range c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil).json(t)["recipients"].([]any) {
		rids = append(rids, x.(map[string]any)["id"].(string))
	}
	commit := func(ctx context.Context, fn func(context.Context) error) error { return h.pg.DB.WithTx(ctx, fn) }
	crashed := func(ctx context.Context, fn func(context.Context) error) error {
		return context.DeadlineExceeded // the process died before committing
	}
	for i, email := range []string{"p1@example.com", "p2@example.com"} {
		tok := c.tokenOf(id, email)
		if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{"consent": true,
			"signature": map[string]any{"type": "typed", "text": email}}); r.status != http.StatusOK {
			t.Fatalf("sign: %d %s", r.status, r.body)
		}
		if err := h.svc.ApplySignature(context.Background(), id, rids[i], crashed); err == nil {
			t.Error("a crashed commit reported success")
		}
		var wg sync.WaitGroup
		for k := 0; k < 3; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.svc.ApplySignature(context.Background(), id, rids[i], commit); err != nil {
					t.Errorf("apply: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	c.waitStatus(id, "COMPLETED")
	z := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document?documentId="+doc1, nil)
	dir := t.TempDir()
	path := dir + "/one.pdf"
	writeFile(t, path, z.body)
	checkSigned(t, path, z.body, []string{"Pat One", "Pat Two"}, writePEM(t, dir, "root.pem", h.pki.Root().Raw), writePEM(t, dir, "issuing.pem", h.pki.Issuing().Raw))
	applied := 0
	for _, e := range c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/events", nil).json(t)["data"].([]any) {
		if e.(map[string]any)["type"] == "recipient.signature_applied" {
			applied++
		}
	}
	if applied != 2 {
		t.Errorf("%d signature_applied events, want 2", applied)
	}
	_ = envelope.TaskApply
}
