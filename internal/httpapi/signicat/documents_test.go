package signicat_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func sha256b64(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func TestDocuments_UploadPDFGetMetadataDelete(t *testing.T) {
	tn := newTenant(t)
	tok := tn.token(t)
	pdf := testPDF(t)

	r := do(t, req{method: http.MethodPost, path: "/sign/documents", bearer: tok, contentType: "application/pdf", body: pdf})
	if r.status != http.StatusCreated || r.body["mimeType"] != "application/pdf" {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	id := r.body["documentId"].(string)
	h := r.body["documentHash"].(map[string]any)
	if h["hashAlgorithm"] != "SHA256" || h["hash"] != sha256b64(pdf) || len(id) != 36 {
		t.Fatalf("reference: %s", r.raw)
	}
	if r.header.Get("Location") != "/sign/documents/"+id {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}

	got := do(t, req{method: http.MethodGet, path: "/sign/documents/" + id, bearer: tok})
	if got.status != http.StatusOK || !bytes.Equal(got.raw, pdf) || got.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("download: %d %s, %d bytes", got.status, got.header.Get("Content-Type"), len(got.raw))
	}
	// The API key of the same account and environment sees it too; another
	// tenant does not.
	if got := do(t, req{method: http.MethodGet, path: "/sign/documents/" + id + "/metadata", bearer: tn.apiKey}); got.status != http.StatusOK || got.body["documentId"] != id {
		t.Fatalf("metadata by API key: %d %s", got.status, got.raw)
	}
	if got := do(t, req{method: http.MethodGet, path: "/sign/documents/" + id, bearer: newTenant(t).apiKey}); got.status != http.StatusNotFound {
		t.Fatalf("another tenant: %d %s", got.status, got.raw)
	}

	for _, method := range []string{http.MethodPut, http.MethodPatch} {
		m := do(t, jsonReq(method, "/sign/documents/"+id+"/metadata", tok,
			`{"filename":"invoice_001.pdf","title":"Invoice #001 `+method+`","description":"Invoice for order #001"}`))
		if m.status != http.StatusOK || m.body["filename"] != "invoice_001.pdf" || m.body["title"] != "Invoice #001 "+method ||
			m.body["description"] != "Invoice for order #001" || m.body["documentHash"].(map[string]any)["hash"] != sha256b64(pdf) {
			t.Fatalf("%s metadata: %d %s", method, m.status, m.raw)
		}
	}
	// A field left out keeps its value.
	m := do(t, jsonReq(http.MethodPatch, "/sign/documents/"+id+"/metadata", tok, `{"title":"Only the title"}`))
	if m.body["filename"] != "invoice_001.pdf" || m.body["title"] != "Only the title" {
		t.Fatalf("partial update: %s", m.raw)
	}

	if got := do(t, req{method: http.MethodDelete, path: "/sign/documents/" + id, bearer: tok}); got.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", got.status, got.raw)
	}
	for _, p := range []string{"/sign/documents/" + id, "/sign/documents/" + id + "/metadata"} {
		if got := do(t, req{method: http.MethodGet, path: p, bearer: tok}); got.status != http.StatusNotFound || got.body["code"] != "document_not_found" {
			t.Fatalf("%s after delete: %d %s", p, got.status, got.raw)
		}
	}
}

func TestDocuments_TextIsRenderedIntoAPDF(t *testing.T) {
	tn := newTenant(t)
	tok := tn.token(t)
	text := "I, Kari Nordmann, agree to the terms of the rental agreement.\n\nSigned in Oslo — Ærlig og ørlite."
	id := upload(t, tok, "text/plain; charset=utf-8", []byte(text))

	meta := do(t, req{method: http.MethodGet, path: "/sign/documents/" + id + "/metadata", bearer: tok})
	got := do(t, req{method: http.MethodGet, path: "/sign/documents/" + id, bearer: tok})
	if meta.body["mimeType"] != "application/pdf" || !bytes.HasPrefix(got.raw, []byte("%PDF-")) ||
		meta.body["documentHash"].(map[string]any)["hash"] != sha256b64(got.raw) {
		t.Fatalf("text document: %s, %d bytes starting %q", meta.raw, len(got.raw), got.raw[:min(8, len(got.raw))])
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "text.pdf")
	if err := os.WriteFile(path, got.raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils): %v", err)
	}
	for _, want := range []string{"Kari Nordmann, agree to the terms", "Ærlig og ørlite"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("pdftotext lacks %q:\n%s", want, out)
		}
	}
}

func TestDocuments_BadInputIsA4xx(t *testing.T) {
	tn := newTenant(t)
	tok := tn.token(t)
	id := upload(t, tok, "application/pdf", testPDF(t))
	long := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   string
		param  string
	}{
		{"no content type", req{method: http.MethodPost, path: "/sign/documents", bearer: tok, body: []byte("%PDF-")}, http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
		{"word document", req{method: http.MethodPost, path: "/sign/documents", bearer: tok, contentType: "application/msword", body: []byte("x")}, http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
		{"latin-1 text", req{method: http.MethodPost, path: "/sign/documents", bearer: tok, contentType: "text/plain; charset=iso-8859-1", body: []byte("x")}, http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
		{"empty text", req{method: http.MethodPost, path: "/sign/documents", bearer: tok, contentType: "text/plain", body: []byte(" \n")}, http.StatusBadRequest, "validation_failed", "body"},
		{"invalid UTF-8 text", req{method: http.MethodPost, path: "/sign/documents", bearer: tok, contentType: "text/plain", body: []byte("bad \xff")}, http.StatusBadRequest, "validation_failed", "body"},
		{"not a PDF", req{method: http.MethodPost, path: "/sign/documents", bearer: tok, contentType: "application/pdf", body: []byte("hello")}, http.StatusUnprocessableEntity, "not_a_pdf", ""},
		{"id not a UUID", req{method: http.MethodGet, path: "/sign/documents/doc_1", bearer: tok}, http.StatusBadRequest, "validation_failed", "documentId"},
		{"unknown document", req{method: http.MethodGet, path: "/sign/documents/01936f00-0000-7000-8000-000000000000", bearer: tok}, http.StatusNotFound, "document_not_found", ""},
		{"filename too long", jsonReq(http.MethodPut, "/sign/documents/"+id+"/metadata", tok, `{"filename":"`+long+`"}`), http.StatusBadRequest, "validation_failed", "filename"},
		{"title too long", jsonReq(http.MethodPatch, "/sign/documents/"+id+"/metadata", tok, `{"title":"`+long+`"}`), http.StatusBadRequest, "validation_failed", "title"},
		{"description too long", jsonReq(http.MethodPut, "/sign/documents/"+id+"/metadata", tok, `{"description":"`+strings.Repeat("d", 1001)+`"}`), http.StatusBadRequest, "validation_failed", "description"},
		{"unknown member", jsonReq(http.MethodPut, "/sign/documents/"+id+"/metadata", tok, `{"colour":"red"}`), http.StatusBadRequest, "validation_failed", "colour"},
		{"wrong method", req{method: http.MethodPost, path: "/sign/documents/" + id, bearer: tok}, http.StatusMethodNotAllowed, "method_not_allowed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.r)
			if r.status != tc.status || r.body["code"] != tc.code || r.body["traceId"] == nil || r.body["title"] == nil {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.code)
			}
			if tc.param != "" {
				ps, _ := r.body["invalidParams"].([]any)
				if len(ps) == 0 || ps[0].(map[string]any)["name"] != tc.param {
					t.Fatalf("invalidParams %v, want %s", r.body["invalidParams"], tc.param)
				}
			}
		})
	}
}
