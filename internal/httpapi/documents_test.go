package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/httpapi"
)

// documentJSON mirrors the API's document for assertions.
type documentJSON struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Title       string `json:"title"`
	Description string `json:"description"`
	MimeType    string `json:"mimeType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Pages       int    `json:"pages"`
	Validation  struct {
		Signable bool `json:"signable"`
		Errors   []struct {
			Code int    `json:"code"`
			Name string `json:"name"`
		} `json:"errors"`
		Warnings []struct {
			Code int    `json:"code"`
			Name string `json:"name"`
		} `json:"warnings"`
	} `json:"validation"`
}

func (d documentJSON) errorCodes() []int {
	var out []int
	for _, e := range d.Validation.Errors {
		out = append(out, e.Code)
	}
	return out
}

func (d documentJSON) warningCodes() []int {
	var out []int
	for _, e := range d.Validation.Warnings {
		out = append(out, e.Code)
	}
	return out
}

type listJSON[T any] struct {
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
	Count  int   `json:"count"`
	Total  int64 `json:"total"`
	Data   []T   `json:"data"`
}

// upload posts a PDF as multipart (Certyneo's quickstart) and returns it.
func upload(t testing.TB, s *testServer, key, filename string, data []byte) documentJSON {
	t.Helper()
	body, ct := multipartBody(t, "file", filename, data, nil)
	r := s.do(t, call{method: http.MethodPost, path: "/api/v1/documents", key: key, contentType: ct, body: body})
	if r.status != http.StatusCreated {
		t.Fatalf("upload %s: %d %s", filename, r.status, r.body)
	}
	var d documentJSON
	r.decode(t, &d)
	return d
}

func blobCount(t testing.TB) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(env.blobDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pdf") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateDocument_Accepted(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	plain := fixture(t, "test.pdf")
	form := formPDF()
	userLocked := encryptedPDF(t, plain, "open-sesame", "owner", model.PermissionsAll)
	ownerRestricted := encryptedPDF(t, plain, "", "owner", model.PermissionsNone)

	type want struct {
		filename, title, description string
		pages                        int
		signable                     bool
		errors, warnings             []int
	}
	multipart := func(filename string, data []byte, fields map[string]string) func(t *testing.T) (string, io.Reader) {
		return func(t *testing.T) (string, io.Reader) {
			body, ct := multipartBody(t, "file", filename, data, fields)
			return ct, body
		}
	}
	raw := func(data []byte) func(t *testing.T) (string, io.Reader) {
		return func(*testing.T) (string, io.Reader) { return "application/pdf", bytes.NewReader(data) }
	}
	cases := []struct {
		name  string
		query string
		body  func(t *testing.T) (string, io.Reader)
		data  []byte
		want  want
	}{
		{"multipart as Certyneo's quickstart", "", multipart("contrat.pdf", plain, nil), plain,
			want{filename: "contrat.pdf", pages: 1, signable: true}},
		{"multipart with metadata fields", "", multipart(`C:\fakepath\offer.pdf`, plain, map[string]string{"title": "Offer", "description": "Q3 offer"}), plain,
			want{filename: "offer.pdf", title: "Offer", description: "Q3 offer", pages: 1, signable: true}},
		{"raw body with Signicat query metadata", "?filename=invoice_001.pdf&title=Invoice+%23001&description=Invoice+for+order+%23001", raw(plain), plain,
			want{filename: "invoice_001.pdf", title: "Invoice #001", description: "Invoice for order #001", pages: 1, signable: true}},
		{"raw body without a filename", "", raw(plain), plain,
			want{filename: "document.pdf", pages: 1, signable: true}},
		{"form fields are a warning", "", multipart("form.pdf", form, nil), form,
			want{filename: "form.pdf", pages: 1, signable: true, warnings: []int{2}}},
		{"open password: encrypted, not signable", "", raw(userLocked), userLocked,
			want{filename: "document.pdf", pages: 0, signable: false, errors: []int{1}}},
		{"owner password without permissions: read-only, unmodifiable", "", raw(ownerRestricted), ownerRestricted,
			want{filename: "document.pdf", pages: 1, signable: false, errors: []int{1, 3, 4}}},
		{"certified with no changes allowed: locked", "", raw(lockedPDF()), lockedPDF(),
			want{filename: "document.pdf", pages: 1, signable: false, errors: []int{5}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := tc.body(t)
			r := s.do(t, call{method: http.MethodPost, path: "/api/v1/documents" + tc.query, key: tn.test, contentType: ct, body: body})
			if r.status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var d documentJSON
			r.decode(t, &d)
			w := tc.want
			if d.Filename != w.filename || d.Title != w.title || d.Description != w.description {
				t.Errorf("metadata %q %q %q, want %q %q %q", d.Filename, d.Title, d.Description, w.filename, w.title, w.description)
			}
			if d.Size != int64(len(tc.data)) || d.SHA256 != sha256Hex(tc.data) || d.MimeType != "application/pdf" {
				t.Errorf("size %d sha %s mime %s; want %d %s", d.Size, d.SHA256, d.MimeType, len(tc.data), sha256Hex(tc.data))
			}
			if d.Pages != w.pages || d.Validation.Signable != w.signable {
				t.Errorf("pages %d signable %v, want %d %v (%s)", d.Pages, d.Validation.Signable, w.pages, w.signable, r.body)
			}
			for _, code := range w.errors {
				if !slices.Contains(d.errorCodes(), code) {
					t.Errorf("errors %v lack code %d", d.errorCodes(), code)
				}
			}
			if len(w.errors) == 0 && len(d.Validation.Errors) > 0 {
				t.Errorf("unexpected errors %s", r.body)
			}
			if !slices.Equal(d.warningCodes(), w.warnings) {
				t.Errorf("warnings %v, want %v", d.warningCodes(), w.warnings)
			}
			if loc := r.header.Get("Location"); loc != "/api/v1/documents/"+d.ID {
				t.Errorf("Location %q", loc)
			}
			// The stored bytes are exactly the upload.
			c := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents/" + d.ID + "/content", key: tn.test})
			if c.status != http.StatusOK || !bytes.Equal(c.body, tc.data) {
				t.Fatalf("content %d, %d bytes", c.status, len(c.body))
			}
		})
	}
}

func TestCreateDocument_Refused(t *testing.T) {
	s := newServer(t, serverOptions{maxSize: 64 << 10})
	tn := newTenant(t)
	plain := fixture(t, "test.pdf")
	big := paddedPDF(100 << 10)
	cases := []struct {
		name        string
		query       string
		contentType string
		body        func(t *testing.T) (string, io.Reader)
		status      int
		code        string
		params      []string
	}{
		{"not a PDF", "", "", rawBody([]byte("hello, this is not a PDF")), 422, "not_a_pdf", nil},
		{"a PNG", "", "", rawBody([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")), 422, "not_a_pdf", nil},
		{"empty body", "", "", rawBody(nil), 422, "not_a_pdf", nil},
		{"PDF header then garbage", "", "", rawBody([]byte("%PDF-1.7\n garbage garbage")), 422, "not_a_pdf", nil},
		{"not a PDF in multipart", "", "", multipartFile("x.pdf", []byte("GIF89a")), 422, "not_a_pdf", nil},
		{"wrong content type", "", "text/plain", rawBody(plain), 415, "unsupported_media_type", nil},
		{"no content type", "", "-", rawBody(plain), 415, "unsupported_media_type", nil},
		{"JSON instead of a file", "", "application/json", rawBody([]byte(`{"file":"x"}`)), 415, "unsupported_media_type", nil},
		{"multipart without file", "", "", func(t *testing.T) (string, io.Reader) {
			b, ct := multipartBody(t, "file", "", nil, map[string]string{"title": "t"})
			return ct, b
		}, 400, "validation_failed", []string{"file"}},
		{"multipart with the wrong field name", "", "", func(t *testing.T) (string, io.Reader) {
			b, ct := multipartBody(t, "document", "a.pdf", plain, nil)
			return ct, b
		}, 400, "validation_failed", []string{"document", "file"}},
		{"every metadata field too long at once", "?filename=" + repeat("f", 256) + "&title=" + repeat("t", 256) + "&description=" + repeat("d", 1001),
			"", rawBody(plain), 400, "validation_failed", []string{"filename", "title", "description"}},
		{"unknown query parameter", "?name=x", "", rawBody(plain), 400, "validation_failed", []string{"name"}},
		{"control character in a multipart title", "", "", func(t *testing.T) (string, io.Reader) {
			b, ct := multipartBody(t, "file", "a.pdf", plain, map[string]string{"title": "Q3\x1b[2Jcontract"})
			return ct, b
		}, 400, "validation_failed", []string{"title"}},
		{"control character in a query title", "?title=Q3%1Bcontract", "", rawBody(plain), 400, "validation_failed", []string{"title"}},
		{"right-to-left override in a multipart file name", "", "", func(t *testing.T) (string, io.Reader) {
			b, ct := multipartBody(t, "file", "a.pdf", plain, map[string]string{"filename": "invoice\u202Efdp.exe"})
			return ct, b
		}, 400, "validation_failed", []string{"filename"}},
		{"bidi isolate in a query file name", "?filename=a%E2%81%A6b.pdf", "", rawBody(plain), 400, "validation_failed", []string{"filename"}},
		{"malformed multipart", "", "multipart/form-data; boundary=zzz", rawBody([]byte("--zzz\r\nbroken")), 400, "malformed_multipart", nil},
		{"multipart without boundary", "", "multipart/form-data", rawBody([]byte("x")), 400, "malformed_multipart", nil},
		{"raw body over the limit", "", "", rawBody(big), 413, "payload_too_large", nil},
		{"multipart over the limit", "", "", multipartFile("big.pdf", big), 413, "payload_too_large", nil},
		{"raw body over the limit without Content-Length", "", "", func(*testing.T) (string, io.Reader) {
			return "application/pdf", io.MultiReader(bytes.NewReader(big)) // unknown length: chunked
		}, 413, "payload_too_large", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := blobCount(t)
			ct, body := tc.body(t)
			switch tc.contentType {
			case "":
			case "-":
				ct = ""
			default:
				ct = tc.contentType
			}
			r := s.do(t, call{method: http.MethodPost, path: "/api/v1/documents" + tc.query, key: tn.test, contentType: ct, body: body})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			p := r.problem(t)
			if p.Code != tc.code {
				t.Errorf("code %q, want %q (%s)", p.Code, tc.code, p.Detail)
			}
			var names []string
			for _, ip := range p.InvalidParams {
				names = append(names, ip.Name)
			}
			slices.Sort(names)
			want := slices.Clone(tc.params)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("invalidParams %v, want %v", p.InvalidParams, tc.params)
			}
			if after := blobCount(t); after != before {
				t.Errorf("a refused upload stored bytes: %d objects before, %d after", before, after)
			}
		})
	}
	list := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: tn.test})
	var l listJSON[documentJSON]
	list.decode(t, &l)
	if l.Total != 0 {
		t.Errorf("refused uploads left %d documents", l.Total)
	}
}

func rawBody(b []byte) func(*testing.T) (string, io.Reader) {
	return func(*testing.T) (string, io.Reader) { return "application/pdf", bytes.NewReader(b) }
}

func multipartFile(name string, data []byte) func(*testing.T) (string, io.Reader) {
	return func(t *testing.T) (string, io.Reader) {
		b, ct := multipartBody(t, "file", name, data, nil)
		return ct, b
	}
}

func TestDocuments_Lifecycle(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	plain := fixture(t, "test.pdf")
	d := upload(t, s, tn.test, "contrat.pdf", plain)
	path := "/api/v1/documents/" + d.ID

	get := s.do(t, call{method: http.MethodGet, path: path, key: tn.test})
	if get.status != http.StatusOK || get.header.Get("ETag") != `"v1"` {
		t.Fatalf("get: %d ETag %q %s", get.status, get.header.Get("ETag"), get.body)
	}
	if r := s.do(t, call{method: http.MethodGet, path: path, key: tn.test, header: map[string]string{"If-None-Match": `"v1"`}}); r.status != http.StatusNotModified {
		t.Errorf("If-None-Match current: %d", r.status)
	}

	content := s.do(t, call{method: http.MethodGet, path: path + "/content", key: tn.test})
	if content.status != http.StatusOK || !bytes.Equal(content.body, plain) {
		t.Fatalf("content: %d", content.status)
	}
	if cl := content.header.Get("Content-Length"); cl != fmt.Sprint(len(plain)) {
		t.Errorf("Content-Length %q", cl)
	}
	if cd := content.header.Get("Content-Disposition"); cd != `attachment; filename=contrat.pdf` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if ct := content.header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type %q", ct)
	}

	patch := func(body string, header map[string]string) result {
		return s.do(t, call{method: http.MethodPatch, path: path, key: tn.test, contentType: "application/json", body: jsonBody(body), header: header})
	}
	r := patch(`{"title":"Invoice #001","description":"Invoice for order #001","filename":"invoice_001.pdf"}`, map[string]string{"If-Match": `"v1"`})
	if r.status != http.StatusOK || r.header.Get("ETag") != `"v2"` {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	var pd documentJSON
	r.decode(t, &pd)
	if pd.Title != "Invoice #001" || pd.Filename != "invoice_001.pdf" || pd.Description != "Invoice for order #001" || pd.SHA256 != d.SHA256 {
		t.Errorf("patched %+v", pd)
	}
	// A stale ETag loses.
	if r := patch(`{"title":"stale"}`, map[string]string{"If-Match": `"v1"`}); r.status != http.StatusPreconditionFailed || r.problem(t).Code != "precondition_failed" {
		t.Errorf("stale If-Match: %d %s", r.status, r.body)
	}
	if r := patch(`{"title":"weak"}`, map[string]string{"If-Match": `W/"v2"`}); r.status != http.StatusPreconditionFailed {
		t.Errorf("weak If-Match: %d %s", r.status, r.body)
	}
	if r := patch(`{"title":"any"}`, map[string]string{"If-Match": `*`}); r.status != http.StatusOK {
		t.Errorf("If-Match *: %d %s", r.status, r.body)
	}
	if r := patch(`{"title":"bad"}`, map[string]string{"If-Match": `v3`}); r.status != http.StatusBadRequest {
		t.Errorf("malformed If-Match: %d %s", r.status, r.body)
	}
	if r := patch(`{}`, nil); r.status != http.StatusOK || r.header.Get("ETag") != `"v4"` {
		t.Errorf("empty patch: %d %s", r.status, r.header.Get("ETag"))
	}
	if r := s.do(t, call{method: http.MethodPatch, path: path, key: tn.test, contentType: "application/merge-patch+json", body: jsonBody(`{"description":""}`)}); r.status != http.StatusOK {
		t.Errorf("merge-patch: %d %s", r.status, r.body)
	}
	// The download carries the new filename.
	if cd := s.do(t, call{method: http.MethodGet, path: path + "/content", key: tn.test}).header.Get("Content-Disposition"); cd != "attachment; filename=invoice_001.pdf" {
		t.Errorf("Content-Disposition after rename %q", cd)
	}

	if r := s.do(t, call{method: http.MethodDelete, path: path, key: tn.test, header: map[string]string{"If-Match": `"v1"`}}); r.status != http.StatusPreconditionFailed {
		t.Errorf("delete with stale If-Match: %d", r.status)
	}
	before := blobCount(t)
	if r := s.do(t, call{method: http.MethodDelete, path: path, key: tn.test}); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if after := blobCount(t); after != before-1 {
		t.Errorf("delete left the bytes: %d objects before, %d after", before, after)
	}
	for _, p := range []string{path, path + "/content"} {
		if r := s.do(t, call{method: http.MethodGet, path: p, key: tn.test}); r.status != http.StatusNotFound || r.problem(t).Code != "document_not_found" {
			t.Errorf("GET %s after delete: %d", p, r.status)
		}
	}
	if r := s.do(t, call{method: http.MethodDelete, path: path, key: tn.test}); r.status != http.StatusNotFound {
		t.Errorf("second delete: %d", r.status)
	}
}

func TestUpdateDocument_Refused(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	d := upload(t, s, tn.test, "a.pdf", fixture(t, "test.pdf"))
	path := "/api/v1/documents/" + d.ID
	cases := []struct {
		name, contentType, body string
		status                  int
		code                    string
		params                  []string
	}{
		{"malformed JSON", "application/json", `{"title": "x",}`, 400, "malformed_json", nil},
		{"truncated JSON", "application/json", `{"title": "x"`, 400, "malformed_json", nil},
		{"empty body", "application/json", ``, 400, "malformed_json", nil},
		{"an array", "application/json", `["title"]`, 400, "malformed_json", nil},
		{"trailing data", "application/json", `{"title":"a"} {"title":"b"}`, 400, "malformed_json", nil},
		{"wrong types and unknown fields all at once", "application/json", `{"title": 5, "description": ["x"], "filename": true, "pages": 3}`,
			400, "validation_failed", []string{"description", "filename", "pages", "title"}},
		{"wrong type and too long together", "application/json", `{"title": 5, "description": "` + repeat("d", 1001) + `"}`,
			400, "validation_failed", []string{"description", "title"}},
		{"every length limit at once", "application/json",
			`{"filename":"` + repeat("f", 256) + `","title":"` + repeat("t", 256) + `","description":"` + repeat("d", 1001) + `"}`,
			400, "validation_failed", []string{"description", "filename", "title"}},
		{"empty filename", "application/json", `{"filename":"  "}`, 400, "validation_failed", []string{"filename"}},
		{"control characters in filename", "application/json", `{"filename":"a\nb.pdf"}`, 400, "validation_failed", []string{"filename"}},
		{"control characters in title", "application/json", `{"title":"a\u0007b"}`, 400, "validation_failed", []string{"title"}},
		{"right-to-left override in filename", "application/json", `{"filename":"invoice\u202efdp.exe"}`, 400, "validation_failed", []string{"filename"}},
		{"wrong content type", "text/plain", `{"title":"x"}`, 415, "unsupported_media_type", nil},
		{"no content type", "", `{"title":"x"}`, 415, "unsupported_media_type", nil},
		{"oversize body", "application/json", `{"title":"` + repeat("x", 2<<20) + `"}`, 413, "payload_too_large", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, call{method: http.MethodPatch, path: path, key: tn.test, contentType: tc.contentType, body: jsonBody(tc.body)})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			p := r.problem(t)
			if p.Code != tc.code {
				t.Errorf("code %q, want %q", p.Code, tc.code)
			}
			var names []string
			for _, ip := range p.InvalidParams {
				names = append(names, ip.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.params) {
				t.Errorf("invalidParams %v, want %v", p.InvalidParams, tc.params)
			}
		})
	}
	// Nothing changed.
	var after documentJSON
	s.do(t, call{method: http.MethodGet, path: path, key: tn.test}).decode(t, &after)
	if after.Title != "" || after.Filename != "a.pdf" {
		t.Errorf("refused patches changed the document: %+v", after)
	}
}

func TestListDocuments(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	plain := fixture(t, "test.pdf")
	var ids []string
	for i := range 5 {
		ids = append(ids, upload(t, s, tn.test, fmt.Sprintf("doc-%d.pdf", i), plain).ID)
	}
	locked := s.do(t, call{method: http.MethodPost, path: "/api/v1/documents?filename=locked.pdf", key: tn.test,
		contentType: "application/pdf", body: bytes.NewReader(lockedPDF())})
	var lockedDoc documentJSON
	locked.decode(t, &lockedDoc)

	list := func(query string) listJSON[documentJSON] {
		t.Helper()
		r := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents" + query, key: tn.test})
		if r.status != http.StatusOK {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		var l listJSON[documentJSON]
		r.decode(t, &l)
		return l
	}
	idsOf := func(l listJSON[documentJSON]) []string {
		var out []string
		for _, d := range l.Data {
			out = append(out, d.ID)
		}
		return out
	}
	all := list("")
	if all.Total != 6 || all.Count != 6 || all.Limit != 100 || all.Offset != 0 || all.Data[0].ID != lockedDoc.ID {
		t.Fatalf("default list: total %d count %d limit %d first %s", all.Total, all.Count, all.Limit, all.Data[0].ID)
	}
	page := list("?offset=1&limit=2&sort=createdAt")
	if page.Total != 6 || page.Count != 2 || !slices.Equal(idsOf(page), ids[1:3]) {
		t.Errorf("page: %+v, want %v", idsOf(page), ids[1:3])
	}
	if l := list("?sort=-filename&limit=1"); l.Data[0].Filename != "locked.pdf" {
		t.Errorf("sort -filename: %s", l.Data[0].Filename)
	}
	if l := list("?sort=%2Bfilename&limit=1"); l.Data[0].Filename != "doc-0.pdf" {
		t.Errorf("sort +filename: %s", l.Data[0].Filename)
	}
	if l := list("?signable=false"); l.Total != 1 || l.Data[0].ID != lockedDoc.ID {
		t.Errorf("signable=false: %v", idsOf(l))
	}
	if l := list("?createdDateFrom=2099-01-01T00:00:00Z"); l.Total != 0 || l.Data == nil {
		t.Errorf("future createdDateFrom: total %d data %v", l.Total, l.Data)
	}
	if l := list("?createdDateTo=2000-01-01T00:00:00Z"); l.Total != 0 {
		t.Errorf("past createdDateTo: %d", l.Total)
	}
	if l := list("?createdDateFrom=2000-01-01T00:00:00Z&createdDateTo=2099-01-01T00:00:00%2B02:00"); l.Total != 6 {
		t.Errorf("wide range: %d", l.Total)
	}
	if l := list("?offset=10"); l.Count != 0 || l.Total != 6 {
		t.Errorf("past the end: %+v", l)
	}

	r := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents?offset=-1&limit=1001&sort=pages,-color&createdDateFrom=yesterday&createdDateTo=2000-01-01T00:00:00Z&signable=maybe&page=2", key: tn.test})
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad params: %d", r.status)
	}
	var names []string
	for _, ip := range r.problem(t).InvalidParams {
		names = append(names, ip.Name)
	}
	slices.Sort(names)
	want := []string{"createdDateFrom", "limit", "offset", "page", "signable", "sort"}
	if !slices.Equal(names, want) {
		t.Errorf("invalidParams %v, want %v", names, want)
	}
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents?createdDateFrom=2020-01-02T00:00:00Z&createdDateTo=2020-01-01T00:00:00Z", key: tn.test}); r.status != http.StatusBadRequest {
		t.Errorf("inverted range: %d", r.status)
	}
}

// TestDocuments_TenantIsolation: another account's key, and the same
// account's live key, see nothing of a test-mode document.
func TestDocuments_TenantIsolation(t *testing.T) {
	s := newServer(t, serverOptions{})
	owner, other := newTenant(t), newTenant(t)
	d := upload(t, s, owner.test, "secret.pdf", fixture(t, "test.pdf"))
	path := "/api/v1/documents/" + d.ID
	for _, who := range []struct{ name, key string }{{"other account", other.test}, {"other account live", other.live}, {"same account live", owner.live}} {
		t.Run(who.name, func(t *testing.T) {
			for _, c := range []call{
				{method: http.MethodGet, path: path},
				{method: http.MethodGet, path: path + "/content"},
				{method: http.MethodPatch, path: path, contentType: "application/json", body: jsonBody(`{"title":"mine now"}`)},
				{method: http.MethodDelete, path: path},
			} {
				c.key = who.key
				r := s.do(t, c)
				if r.status != http.StatusNotFound {
					t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
					continue
				}
				if p := r.problem(t); strings.Contains(string(r.body), "secret.pdf") || p.Code != "document_not_found" {
					t.Errorf("%s %s leaked: %s", c.method, c.path, r.body)
				}
			}
			r := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: who.key})
			var l listJSON[documentJSON]
			r.decode(t, &l)
			if l.Total != 0 || len(l.Data) != 0 {
				t.Errorf("list shows %d documents", l.Total)
			}
		})
	}
	// Still intact for its owner.
	if r := s.do(t, call{method: http.MethodGet, path: path, key: owner.test}); r.status != http.StatusOK || !strings.Contains(string(r.body), `"title":""`) {
		t.Errorf("owner: %d %s", r.status, r.body)
	}
}

type usageStub struct{ used map[string]bool }

func (u usageStub) DocumentInUse(_ context.Context, _ account.Scope, id string) (bool, error) {
	return u.used[id], nil
}

func TestDeleteDocument_InUseByEnvelope(t *testing.T) {
	usage := usageStub{used: map[string]bool{}}
	s := newServer(t, serverOptions{usage: usage})
	tn := newTenant(t)
	d := upload(t, s, tn.test, "a.pdf", fixture(t, "test.pdf"))
	usage.used[d.ID] = true
	r := s.do(t, call{method: http.MethodDelete, path: "/api/v1/documents/" + d.ID, key: tn.test})
	if r.status != http.StatusConflict || r.problem(t).Code != "document_in_use" {
		t.Fatalf("delete in use: %d %s", r.status, r.body)
	}
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents/" + d.ID + "/content", key: tn.test}); r.status != http.StatusOK {
		t.Errorf("in-use document lost its bytes: %d", r.status)
	}
}

func TestOpenAPI_ServedWithDocsPage(t *testing.T) {
	s := newServer(t, serverOptions{})
	r := s.do(t, call{method: http.MethodGet, path: "/api/openapi.json"})
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"openapi": "3.1.0"`)) {
		t.Fatalf("openapi.json: %d %.100s", r.status, r.body)
	}
	d := s.do(t, call{method: http.MethodGet, path: "/docs"})
	if d.status != http.StatusOK || !strings.HasPrefix(d.header.Get("Content-Type"), "text/html") || !bytes.Contains(d.body, []byte("/api/openapi.json")) {
		t.Fatalf("docs: %d %s", d.status, d.header.Get("Content-Type"))
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/nothing", key: tn.test}); r.status != http.StatusNotFound || r.problem(t).Code != "not_found" {
		t.Errorf("unknown route: %d", r.status)
	}
	if r := s.do(t, call{method: http.MethodPut, path: "/api/v1/documents", key: tn.test}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT documents: %d", r.status)
	}
}

var _ = url.Values{}
var _ = httpapi.Problem{}
