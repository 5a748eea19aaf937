package signicat_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestCollections_CreateGetDelete(t *testing.T) {
	tn := newTenant(t)
	tok := tn.token(t)
	a := upload(t, tok, "application/pdf", testPDF(t))
	b := upload(t, tok, "text/plain", []byte("I agree."))

	r := do(t, jsonReq(http.MethodPost, "/sign/document-collections", tok,
		`{"documents":[{"documentId":"`+a+`"},{"documentId":"`+b+`"}],"packageTo":["PADES_CONTAINER"]}`))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	docs := r.body["documents"].([]any)
	if len(id) != 36 || len(docs) != 2 || docs[0].(map[string]any)["documentId"] != a || docs[1].(map[string]any)["documentId"] != b ||
		fmt.Sprint(r.body["packageTo"]) != "[PADES_CONTAINER]" || fmt.Sprint(r.body["output"]) != "map[packages:[]]" {
		t.Fatalf("created collection: %s", r.raw)
	}
	if r.header.Get("Location") != "/sign/document-collections/"+id {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	g := do(t, req{method: http.MethodGet, path: "/sign/document-collections/" + id, bearer: tn.apiKey})
	if g.status != http.StatusOK || g.body["id"] != id || len(g.body["documents"].([]any)) != 2 {
		t.Fatalf("get: %d %s", g.status, g.raw)
	}
	if g := do(t, req{method: http.MethodGet, path: "/sign/document-collections/" + id, bearer: newTenant(t).apiKey}); g.status != http.StatusNotFound {
		t.Fatalf("another tenant: %d %s", g.status, g.raw)
	}
	if d := do(t, req{method: http.MethodDelete, path: "/sign/document-collections/" + id, bearer: tok}); d.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", d.status, d.raw)
	}
	if g := do(t, req{method: http.MethodGet, path: "/sign/document-collections/" + id, bearer: tok}); g.status != http.StatusNotFound || g.body["code"] != "document_collection_not_found" {
		t.Fatalf("after delete: %d %s", g.status, g.raw)
	}
	// The documents stay.
	if g := do(t, req{method: http.MethodGet, path: "/sign/documents/" + a + "/metadata", bearer: tok}); g.status != http.StatusOK {
		t.Fatalf("document after collection delete: %d %s", g.status, g.raw)
	}
}

func TestCollections_BadInputNamesEveryField(t *testing.T) {
	tn := newTenant(t)
	tok := tn.token(t)
	a := upload(t, tok, "application/pdf", testPDF(t))
	foreign := upload(t, newTenant(t).apiKey, "application/pdf", testPDF(t))
	many := make([]string, 101)
	for i := range many {
		many[i] = `{"documentId":"` + a + `"}`
	}
	for _, tc := range []struct {
		name, body string
		params     []string
	}{
		{"no documents", `{"documents":[]}`, []string{"documents"}},
		{"documents missing", `{"packageTo":["PADES_CONTAINER"]}`, []string{"documents"}},
		{"101 documents", `{"documents":[` + strings.Join(many, ",") + `]}`, []string{"documents"}},
		{"not a UUID", `{"documents":[{"documentId":"doc_1"}]}`, []string{"documents[0].documentId"}},
		{"another tenant's document", `{"documents":[{"documentId":"` + foreign + `"}]}`, []string{"documents[0].documentId"}},
		{"twice the same", `{"documents":[{"documentId":"` + a + `"},{"documentId":"` + a + `"}]}`, []string{"documents[1].documentId"}},
		{"unknown package", `{"documents":[{"documentId":"` + a + `"}],"packageTo":["ZIP"]}`, []string{"packageTo[0]"}},
		{"six packages", `{"documents":[{"documentId":"` + a + `"}],"packageTo":["PADES_CONTAINER","PADES_CONTAINER","PADES_CONTAINER","PADES_CONTAINER","PADES_CONTAINER","PADES_CONTAINER"]}`, []string{"packageTo"}},
		{"unknown member", `{"documents":[{"documentId":"` + a + `","colour":"red"}]}`, []string{"documents[0].colour"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, jsonReq(http.MethodPost, "/sign/document-collections", tok, tc.body))
			if r.status != http.StatusBadRequest || r.body["code"] != "validation_failed" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			var names []string
			for _, p := range r.body["invalidParams"].([]any) {
				names = append(names, p.(map[string]any)["name"].(string))
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.params) {
				t.Fatalf("invalidParams %v, want %v: %s", names, tc.params, r.raw)
			}
		})
	}
}
