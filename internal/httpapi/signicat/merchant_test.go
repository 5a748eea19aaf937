package signicat_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestMerchantSign_ThreeDocumentsSealedBLTA(t *testing.T) {
	tn := newTenant(t)
	tok := tn.token(t)
	pdf := testPDF(t)
	ids := []string{
		upload(t, tok, "application/pdf", pdf),
		upload(t, tok, "text/plain", []byte("Invoice 2026-001: 1 000 NOK, due in 30 days.")),
		upload(t, tok, "application/pdf", pdf),
	}
	var refs []string
	for _, id := range ids {
		refs = append(refs, `{"documentId":"`+id+`"}`)
	}
	r := do(t, jsonReq(http.MethodPost, "/sign/merchant-sign", tok, `{"vendor":"NBID","toBeSignedDocuments":[`+strings.Join(refs, ",")+`]}`))
	if r.status != http.StatusOK || len(r.list) != 3 {
		t.Fatalf("merchant sign: %d %s", r.status, r.raw)
	}
	for i, item := range r.list {
		res := item.(map[string]any)
		if res["documentId"] != ids[i] || res["documentResultId"] == ids[i] {
			t.Fatalf("result %d: %v", i, res)
		}
		orig := do(t, req{method: http.MethodGet, path: "/sign/documents/" + ids[i], bearer: tok})
		sealed := do(t, req{method: http.MethodGet, path: "/sign/documents/" + res["documentResultId"].(string), bearer: tok})
		if sealed.status != http.StatusOK || !bytes.HasPrefix(sealed.raw, orig.raw) || len(sealed.raw) <= len(orig.raw) {
			t.Fatalf("result %d is not an incremental revision of the original (%d → %d bytes)", i, len(orig.raw), len(sealed.raw))
		}
		sigs := checkSealed(t, sealed.raw, 1)
		if sigs[0].Signer != env.ca.Seal().Cert.Subject.CommonName {
			t.Fatalf("sealed by %q, want the platform seal %q", sigs[0].Signer, env.ca.Seal().Cert.Subject.CommonName)
		}
	}
}

func TestMerchantSign_BadInputSealsNothing(t *testing.T) {
	tn := newTenant(t)
	tok := tn.token(t)
	id := upload(t, tok, "application/pdf", testPDF(t))
	many := strings.Repeat(`{"documentId":"`+id+`"},`, 21)
	for _, tc := range []struct {
		name, body, param, reason string
	}{
		{"unknown vendor", `{"vendor":"MITID","toBeSignedDocuments":[{"documentId":"` + id + `"}]}`, "vendor", "accepted: NBID"},
		{"no vendor", `{"toBeSignedDocuments":[{"documentId":"` + id + `"}]}`, "vendor", "accepted: NBID"},
		{"no documents", `{"vendor":"NBID","toBeSignedDocuments":[]}`, "toBeSignedDocuments", "at least one"},
		{"21 documents", `{"vendor":"NBID","toBeSignedDocuments":[` + strings.TrimSuffix(many, ",") + `]}`, "toBeSignedDocuments", "at most 20"},
		{"unknown document", `{"vendor":"NBID","toBeSignedDocuments":[{"documentId":"01936f00-0000-7000-8000-000000000000"}]}`, "toBeSignedDocuments[0].documentId", "no such document"},
		{"not a UUID", `{"vendor":"NBID","toBeSignedDocuments":[{"documentId":"x"}]}`, "toBeSignedDocuments[0].documentId", "UUID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, jsonReq(http.MethodPost, "/sign/merchant-sign", tok, tc.body))
			if r.status != http.StatusBadRequest || r.body["code"] != "validation_failed" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			p := r.body["invalidParams"].([]any)[0].(map[string]any)
			if p["name"] != tc.param || !strings.Contains(p["reason"].(string), tc.reason) {
				t.Fatalf("invalidParams %v, want %s: …%s…", r.body["invalidParams"], tc.param, tc.reason)
			}
		})
	}
}
