package envelope_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

// An anchor that occurs on two pages gives its signer two fields; both
// show the signer's stamp, yet each signer has exactly one signature in the
// document, and neither signer's stamps count as a change to the other's
// signed revision.
func TestFields_AnchorOnTwoPagesStampsBothWithOneSignature(t *testing.T) {
	c := newClient(t)
	pdf := padestest.Contract([][]string{
		{"Service agreement, page one", "", "Initials:", "", "", "", "", "", "Countersign:"},
		{"Service agreement, page two", "", "Initials:", "", "", "", "", "", "Countersign:"},
	})
	doc := c.upload("two-pages.pdf", pdf)
	anchored := func(anchor string) []map[string]any {
		return []map[string]any{{"documentId": doc, "type": "INITIALS", "anchorString": anchor, "anchorYOffset": 12, "width": 200, "height": 50}}
	}
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{"subject": "Two pages", "documentIds": []string{doc},
		"recipients": []map[string]any{
			{"email": "ida@example.com", "name": "Ida Initials", "role": "SIGNER", "fields": anchored("Initials:")},
			{"email": "carl@example.com", "name": "Carl Counter", "role": "SIGNER", "fields": anchored("Countersign:")},
		}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	env := r.json(t)
	for i, rc := range env["recipients"].([]any) {
		var pages []float64
		for _, f := range rc.(map[string]any)["fields"].([]any) {
			pages = append(pages, f.(map[string]any)["page"].(float64))
		}
		if len(pages) != 2 || pages[0] == pages[1] {
			t.Fatalf("recipient %d: anchor fields on pages %v, want one on each page", i, pages)
		}
	}
	id := env["id"].(string)
	if r = c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	for _, s := range []struct{ email, name string }{{"ida@example.com", "Ida Initials"}, {"carl@example.com", "Carl Counter"}} {
		tok := c.tokenOf(id, s.email)
		if r = do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{
			"consent": true, "signature": map[string]any{"type": "typed", "text": s.name}}); r.status != http.StatusOK {
			t.Fatalf("%s signs: %d %s", s.email, r.status, r.body)
		}
	}
	c.waitStatus(id, "COMPLETED")
	signed := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil).body
	path := filepath.Join(t.TempDir(), "two-pages-signed.pdf")
	if err := os.WriteFile(path, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	out := pdfsig(t, path)
	// One block per signature field: the two signers' and the envelope's
	// document timestamp, no unsigned field for the extra places.
	count := map[string]int{}
	blocks := sigBlock.Split(out, -1)[1:]
	for _, b := range blocks {
		for _, name := range []string{"Ida Initials", "Carl Counter"} {
			if strings.Contains(b, "Signer Certificate Common Name: "+name) && strings.Contains(b, "Signature Validation: Signature is Valid.") {
				count[name]++
			}
		}
	}
	if count["Ida Initials"] != 1 || count["Carl Counter"] != 1 || len(blocks) != 3 {
		t.Fatalf("want one valid signature per signer and no other field, got %v:\n%s", count, out)
	}
	// Every place shows its signer's stamp: the details on both pages.
	for page, words := range []map[string][][4]float64{bboxWordsOf(t, path, 1), bboxWordsOf(t, path, 2)} {
		for _, who := range []string{"Ida", "Carl"} {
			if len(words[who]) == 0 {
				t.Errorf("page %d shows no stamp of %s", page+1, who)
			}
		}
	}
	rep, err := pades.Verify(bytes.NewReader(signed), int64(len(signed)), pades.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sigs := 0
	for _, s := range rep.Signatures {
		if s.DocumentTimestamp {
			continue
		}
		sigs++
		if s.Checks.Integrity.Status != pades.CheckPassed || s.Checks.Modifications.Status != pades.CheckPassed {
			t.Errorf("%s: integrity %+v, modifications %+v, changes %+v", s.FieldName, s.Checks.Integrity, s.Checks.Modifications, s.Changes)
		}
		for _, ch := range s.Changes {
			if ch.Kind == pades.ChangeAnnotation || ch.Kind == pades.ChangeOther {
				t.Errorf("%s: change %+v", s.FieldName, ch)
			}
		}
	}
	if sigs != 2 {
		t.Errorf("Verify found %d signatures, want 2", sigs)
	}
}
