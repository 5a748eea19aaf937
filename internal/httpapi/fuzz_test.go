package httpapi_test

import (
	"bytes"
	"net/http"
	"testing"
)

// FuzzUploadDocument feeds arbitrary bytes to the upload and validation
// path, raw and multipart: the answer is a document or a 4xx problem, never
// a panic or a 5xx.
func FuzzUploadDocument(f *testing.F) {
	plain := fixture(f, "test.pdf")
	f.Add(plain, false)
	f.Add(plain[:len(plain)/2], false)
	f.Add(lockedPDF(), true)
	f.Add(formPDF(), false)
	f.Add([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 1 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF"), false)
	f.Add([]byte("%PDF-1.7\nxref\n0 99999999\ntrailer<</Size -1/Root 1 0 R/Encrypt 2 0 R>>\nstartxref\n9\n%%EOF"), true)
	f.Add([]byte{}, false)
	s := newServer(f, serverOptions{maxSize: 1 << 20})
	tn := newTenant(f)
	f.Fuzz(func(t *testing.T, data []byte, asMultipart bool) {
		c := call{method: http.MethodPost, path: "/api/v1/documents", key: tn.test, contentType: "application/pdf", body: bytes.NewReader(data)}
		if asMultipart {
			c.body, c.contentType = multipartBody(t, "file", "fuzz.pdf", data, nil)
		}
		r := s.do(t, c)
		switch {
		case r.status == http.StatusCreated:
		case r.status >= 400 && r.status < 500:
			r.problem(t)
		default:
			t.Fatalf("status %d for %d bytes: %s", r.status, len(data), r.body)
		}
	})
}

// FuzzUpdateDocumentJSON feeds arbitrary JSON bodies to PATCH: never 5xx.
func FuzzUpdateDocumentJSON(f *testing.F) {
	for _, seed := range []string{`{"title":"x"}`, `{"title":5}`, `{"filename":"` + "\x00" + `"}`, `[]`, `{`, `null`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"description":"\ud800"}`, `"str"`} {
		f.Add([]byte(seed))
	}
	s := newServer(f, serverOptions{})
	tn := newTenant(f)
	d := upload(f, s, tn.test, "fuzz.pdf", fixture(f, "test.pdf"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := s.do(t, call{method: http.MethodPatch, path: "/api/v1/documents/" + d.ID, key: tn.test, contentType: "application/json", body: bytes.NewReader(body)})
		if r.status != http.StatusOK && (r.status < 400 || r.status >= 500) {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
	})
}
