package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestContract_CatchesDrift shows the contract check bites: a server that
// answers a documented route with an undocumented shape, status or missing
// header is reported.
func TestContract_CatchesDrift(t *testing.T) {
	cases := []struct {
		name, path string
		status     int
		header     map[string]string
		body       string
		violation  string
	}{
		{"extra property", "/api/v1/documents/doc_x", 404, map[string]string{"Content-Type": "application/problem+json", "Operation-Id": "1234567"},
			`{"type":"t","title":"t","status":404,"code":"x","leak":"y"}`, "leak"},
		{"undocumented status", "/api/v1/documents/doc_x", 418, map[string]string{"Content-Type": "application/problem+json", "Operation-Id": "1234567"},
			`{"type":"t","title":"t","status":418,"code":"x"}`, "status"},
		{"missing Operation-Id", "/api/v1/documents/doc_x", 404, map[string]string{"Content-Type": "application/problem+json"},
			`{"type":"t","title":"t","status":404,"code":"x"}`, "Operation-Id"},
		{"wrong list shape", "/api/v1/documents", 200, map[string]string{"Content-Type": "application/json", "Operation-Id": "1234567"},
			`{"items":[]}`, "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			rec := &recorder{TB: t}
			client := (&testServer{Server: srv}).client(rec)
			resp, err := client.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(rec.errors) == 0 || !strings.Contains(strings.Join(rec.errors, "\n"), tc.violation) {
				t.Errorf("violation not reported (want mention of %q): %v", tc.violation, rec.errors)
			}
		})
	}
}
