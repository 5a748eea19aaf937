package envelope_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/mail/mailtest"
)

// TestLanguage_InvitationsAndSignerViewSpeakTheRecipientsLanguage: the
// envelope's language governs, a recipient's locale wins over it; the
// consent text follows the envelope; a language we do not speak is a 400
// naming the field.
func TestLanguage_InvitationsAndSignerViewSpeakTheRecipientsLanguage(t *testing.T) {
	c := newClient(t)
	doc := c.upload("smlouva.pdf", samplePDF("Smlouva", 1))

	for _, tc := range []struct {
		body  map[string]any
		param string
	}{
		{map[string]any{"language": "de"}, "language"},
		{map[string]any{"language": "fr_FR!"}, "language"},
		{map[string]any{"recipients": []map[string]any{{"email": "x@example.com", "name": "X", "locale": "zz"}}}, "recipients[0].locale"},
	} {
		body := map[string]any{"subject": "S", "documentIds": []string{doc},
			"recipients": []map[string]any{{"email": "x@example.com", "name": "X"}}}
		for k, v := range tc.body {
			body[k] = v
		}
		r := c.do(http.MethodPost, "/api/v1/envelopes", body)
		if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
			t.Fatalf("%v: %d %s", tc.body, r.status, r.body)
		}
		if !strings.Contains(string(r.body), `"name":"`+tc.param+`"`) || !strings.Contains(string(r.body), "en, fr, cs, nb, kk, ru") {
			t.Errorf("%v: %s does not name %s and the supported languages", tc.body, r.body, tc.param)
		}
	}

	jana, ivan := "jana@example.com", "ivan@example.com"
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
		"subject": "Smlouva o dílo", "documentIds": []string{doc}, "language": "cs",
		"expiresAt": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"recipients": []map[string]any{
			{"email": jana, "name": "Jana Nováková"},
			{"email": ivan, "name": "Иван Петров", "locale": "ru-RU"},
		},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	env := r.json(t)
	if env["language"] != "cs" || env["recipients"].([]any)[1].(map[string]any)["locale"] != "ru-RU" {
		t.Fatalf("language/locale not echoed: %s", r.body)
	}
	id := env["id"].(string)
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	cs, err := h.smtp.Wait(30*time.Second, mailtest.To(jana, "Žádost o podpis: Smlouva o dílo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Dobrý den, Jana Nováková,", "Žádáme vás o podpis „Smlouva o dílo“ (1 dokument).", "Zobrazit a podepsat", "Vyřiďte to prosím do "} {
		if !strings.Contains(cs.Text, want) {
			t.Errorf("Czech invitation lacks %q:\n%s", want, cs.Text)
		}
	}
	if !strings.Contains(cs.HTML, `<html lang="cs">`) {
		t.Error("Czech invitation HTML is not marked lang=cs")
	}
	ru, err := h.smtp.Wait(30*time.Second, mailtest.To(ivan, "Просим подписать: Smlouva o dílo"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ru.Text, "Здравствуйте, Иван Петров!") || !strings.Contains(ru.Text, "(1 документ)") {
		t.Errorf("Russian invitation:\n%s", ru.Text)
	}

	v := do(t, "", http.MethodGet, "/api/v1/signer/"+c.tokenOf(id, ivan), nil).json(t)
	if v["envelope"].(map[string]any)["language"] != "cs" || v["recipient"].(map[string]any)["locale"] != "ru-RU" {
		t.Errorf("signer view language: %v / %v", v["envelope"], v["recipient"])
	}
	if st := v["envelope"].(map[string]any)["signText"].(string); !strings.HasPrefix(st, "Souhlasím s elektronickým podpisem") {
		t.Errorf("default consent text is not in the envelope's language: %q", st)
	}
}
