package envelope_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNames_EveryScriptRoundTripsThroughStampAndAuditTrail signs an
// envelope whose signers are named in Latin with diacritics and Kazakh
// Cyrillic, and in Greek, and reads both the stamps of the signed document
// and the sealed audit trail back with pdftotext.
func TestNames_EveryScriptRoundTripsThroughStampAndAuditTrail(t *testing.T) {
	c := newClient(t)
	doc := c.upload("smlouva.pdf", samplePDF("Smlouva", 1))
	antonin, eleftherios := "Антонín Dvořák Ұлы", "Ελευθέριος Βενιζέλος"
	subject := "Smlouva o dílo – Договор № 5 “Қазақ” 12 € œ"
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
		"subject": subject, "documentIds": []string{doc},
		"signText": "Souhlasím – Я согласен: ’ “ ” € œ",
		"recipients": []map[string]any{
			{"email": "antonin@example.com", "name": antonin, "role": "SIGNER",
				"fields": []map[string]any{{"documentId": doc, "type": "SIGNATURE", "page": 1, "x": 50, "y": 60, "width": 240, "height": 90}}},
			{"email": "venizelos@example.com", "name": eleftherios, "role": "SIGNER",
				"fields": []map[string]any{{"documentId": doc, "type": "SIGNATURE", "page": 1, "x": 310, "y": 60, "width": 240, "height": 90}}},
		},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if r = c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	for email, name := range map[string]string{"antonin@example.com": antonin, "venizelos@example.com": eleftherios} {
		tok := c.tokenOf(id, email)
		r = do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{
			"consent": true, "signature": map[string]any{"type": "typed", "text": name}})
		if r.status != http.StatusOK {
			t.Fatalf("%s signs: %d %s", email, r.status, r.body)
		}
	}
	c.waitStatus(id, "COMPLETED")
	dir := t.TempDir()
	if keep := os.Getenv("VELLUM_KEEP_PDFS"); keep != "" {
		dir = keep // to look at the pages: pdftoppm -png
	}
	signed := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil)
	trail := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/audit-trail", nil)
	if signed.status != http.StatusOK || trail.status != http.StatusOK {
		t.Fatalf("downloads: %d, %d", signed.status, trail.status)
	}
	signedPath, trailPath := filepath.Join(dir, "names-signed.pdf"), filepath.Join(dir, "names-audit-trail.pdf")
	os.WriteFile(signedPath, signed.body, 0o600)
	os.WriteFile(trailPath, trail.body, 0o600)

	stamp := strings.Join(strings.Fields(pdftotext(t, signedPath)), " ")
	for _, want := range []string{antonin, eleftherios, "Digitally signed by " + antonin, "Digitally signed by " + eleftherios} {
		if !strings.Contains(stamp, want) {
			t.Errorf("signed document lacks %q:\n%s", want, stamp)
		}
	}
	text := strings.Join(strings.Fields(pdftotext(t, trailPath)), " ")
	for _, want := range []string{
		antonin, eleftherios, subject, "Souhlasím – Я согласен: ’ “ ” € œ",
		"Sent by API key", "accepted the consent text at", "the recorded SHA-256 matches the text above",
		"Subject CN=" + antonin + ", emailAddress=antonin@example.com", "Issuer", "Serial number", "Valid", "document timestamp (PAdES B-LTA)",
		"The envelope was completed at", "Chain verified", "Genesis", "Head event #",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("audit trail lacks %q", want)
		}
	}
	if strings.Contains(stamp+text, "?") {
		t.Errorf("a character was printed as '?'")
	}
}

// Names a stamp cannot draw are refused with a 400 naming the field and
// the character, when they are given: never printed as '?' later.
func TestNames_UndrawableNamesAreRefusedWhenGiven(t *testing.T) {
	c := newClient(t)
	doc := c.upload("c.pdf", samplePDF("C", 1))
	create := func(signer, cc string) response {
		return c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
			"subject": "s", "documentIds": []string{doc},
			"recipients": []map[string]any{
				{"email": "s@example.com", "name": signer, "role": "SIGNER"},
				{"email": "cc@example.com", "name": cc, "role": "CC"},
			},
		})
	}
	for name, want := range map[string]string{
		"مريم العلي": "right-to-left script",
		"דוד לוי":    "right-to-left script",
		"राम शर्मा":  "needs glyph shaping",
		"王小明":        "no font of this server can draw",
	} {
		r := create(name, "Carol")
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "recipients[0].name") || !strings.Contains(string(r.body), want) {
			t.Errorf("signer %q: %d %s", name, r.status, r.body)
		}
	}
	// A CC's name is never stamped: any script is fine.
	r := create("Jana Nováková", "مريم العلي")
	if r.status != http.StatusCreated {
		t.Fatalf("CC with an Arabic name: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if r = c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	tok := c.tokenOf(id, "s@example.com")
	r = do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{
		"consent": true, "signature": map[string]any{"type": "typed", "text": "王小明"}})
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "signature.text") {
		t.Errorf("typed Han signature: %d %s", r.status, r.body)
	}
}
