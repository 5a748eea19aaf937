package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/httpapi"
)

// TestUpload_ManyEmptyPartsAreCappedNotListed sends 20,000 empty parts:
// the answer is one small problem, not an entry per part.
func TestUpload_ManyEmptyPartsAreCappedNotListed(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < 20000; i++ {
		if _, err := mw.CreateFormField(fmt.Sprintf("x%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	r := s.do(t, call{method: http.MethodPost, path: "/api/v1/documents", key: tn.test, contentType: mw.FormDataContentType(), body: &buf})
	if r.status != http.StatusBadRequest || r.problem(t).Code != "too_many_parts" || len(r.body) > 2048 {
		t.Errorf("20,000 parts: %d, %d bytes: %.300s", r.status, len(r.body), r.body)
	}
}

// TestValidationProblem_ListsAtMost50Params sends 300 unknown fields.
func TestValidationProblem_ListsAtMost50Params(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	var b strings.Builder
	b.WriteString(`{"name":"k"`)
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, `,"f%03d":1`, i)
	}
	b.WriteString("}")
	r := s.do(t, call{method: http.MethodPost, path: "/api/v1/keys", key: tn.test, contentType: "application/json", body: jsonBody(b.String())})
	p := r.problem(t)
	if r.status != http.StatusBadRequest || len(p.InvalidParams) != httpapi.MaxInvalidParams ||
		p.InvalidParams[0].Name != "f000" || !strings.Contains(p.Detail, "300") {
		t.Errorf("300 unknown fields: %d, %d params, detail %q", r.status, len(p.InvalidParams), p.Detail)
	}
}

// TestBody_TricklingClientIsCutOffWith408 sends a body one byte at a time,
// slower than the minimum rate: the server answers 408 and closes.
func TestBody_TricklingClientIsCutOffWith408(t *testing.T) {
	t.Cleanup(httpapi.SetBodyGrace(500 * time.Millisecond))
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", tn.test)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute)) // a hang fails, it does not block the suite
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Errorf("trickled body: %d, close %v; want 408 and the connection closed", resp.StatusCode, resp.Close)
	}
}

// TestStrings_NULAndInvalidUTF8AreRefusedNever500 puts NUL and invalid
// UTF-8 into ids, query parameters and JSON strings.
func TestStrings_NULAndInvalidUTF8AreRefusedNever500(t *testing.T) {
	s := newServer(t, serverOptions{})
	hooks := newWebhookServer(t)
	tn := newTenant(t)
	for _, tc := range []struct {
		name      string
		srv       *testServer
		method    string
		path      string
		body      string
		status    int
		invalidAt string
	}{
		{"NUL in a document id", s, http.MethodGet, "/api/v1/documents/doc_%00", "", 404, ""},
		{"invalid UTF-8 in a document id", s, http.MethodGet, "/api/v1/documents/doc_%FF%FE", "", 404, ""},
		{"NUL in a key id", s, http.MethodDelete, "/api/v1/keys/key_%00", "", 404, ""},
		{"NUL in a query value", s, http.MethodGet, "/api/v1/documents?sort=%00", "", 400, "sort"},
		{"invalid UTF-8 in a query value", s, http.MethodGet, "/api/v1/documents?filename=%C3%28", "", 400, "filename"},
		{"NUL in a key name", s, http.MethodPost, "/api/v1/keys", `{"name":"ci\u0000key"}`, 400, "name"},
		{"invalid UTF-8 in a JSON body", s, http.MethodPost, "/api/v1/keys", "{\"name\":\"ci\xff\"}", 400, ""},
		{"NUL in a webhook description", hooks, http.MethodPost, "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/h","description":"a\u0000"}`, 400, "description"},
		{"NUL in webhook events", hooks, http.MethodPost, "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/h","events":["envelope.sent","\u0000"]}`, 400, "events[1]"},
		{"NUL in a webhook id", hooks, http.MethodGet, "/api/v1/webhooks/wh_%00", "", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := call{method: tc.method, path: tc.path, key: tn.test}
			if tc.body != "" {
				c.contentType, c.body = "application/json", jsonBody(tc.body)
			}
			r := tc.srv.do(t, c)
			p := r.problem(t)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.invalidAt != "" && (len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != tc.invalidAt) {
				t.Errorf("invalidParams %+v, want one at %s", p.InvalidParams, tc.invalidAt)
			}
		})
	}
}

// TestDecode_NestedTypeErrorsNameTheInnermostValue checks that a wrong
// element type is reported at the element, not as its array.
func TestDecode_NestedTypeErrorsNameTheInnermostValue(t *testing.T) {
	hooks := newWebhookServer(t)
	tn := newTenant(t)
	r := hooks.do(t, call{method: http.MethodPost, path: "/api/v1/webhooks", key: tn.test, contentType: "application/json",
		body: jsonBody(`{"url":"http://127.0.0.1:9/h","events":["envelope.sent",7]}`)})
	p := r.problem(t)
	if len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != "events[1]" || p.InvalidParams[0].Reason != "must be a string, not a number" {
		t.Errorf("nested type error: %+v", p.InvalidParams)
	}
}
