package remsig_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/vellum-sign/vellum/openapi"
)

var contract routers.Router

func init() {
	openapi3filter.RegisterBodyDecoder("application/zip", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/timestamp-reply", openapi3filter.FileBodyDecoder)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.YAML)
	if err != nil {
		panic(fmt.Sprintf("load openapi.yaml: %v", err))
	}
	doc.Servers = nil
	if contract, err = legacy.NewRouter(doc); err != nil {
		panic(err)
	}
}

// checkContract validates a RemSig response against openapi.yaml: an
// undocumented route, status, header or body fails t.
func checkContract(t testing.TB, method, rawURL string, status int, header http.Header, body []byte) {
	t.Helper()
	u, _ := url.Parse(rawURL)
	req, _ := http.NewRequest(method, u.String(), nil)
	route, params, err := contract.FindRoute(req)
	if err != nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Errorf("contract: %s %s is not in openapi.yaml (status %d)", method, u.Path, status)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if verr := openapi3filter.ValidateResponse(req.Context(), in); verr != nil {
		t.Errorf("contract: %s %s → %d violates openapi.yaml: %v\nbody: %.500s", method, u.Path, status, verr, body)
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

func TestContract_CatchesDrift(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "Operation-Id": {"1234567"}}
	for _, tc := range []struct {
		name, path string
		body       string
	}{
		{"missing field", "/api/batch/abc/state", `{"operationId":1}`},
		{"wrong enum", "/api/batch/abc/state", `{"operationId":1,"state":"DONE"}`},
		{"string id", "/api/certificate/latest-valid", `{"operationId":1,"certificate":{"id":"x"}}`},
	} {
		r := &recorder{TB: t}
		checkContract(r, http.MethodGet, env.server.URL+tc.path, http.StatusOK, h, []byte(tc.body))
		if len(r.errs) == 0 {
			t.Errorf("%s: not reported", tc.name)
		}
	}
	r := &recorder{TB: t}
	checkContract(r, http.MethodGet, env.server.URL+"/api/batch/abc/state", http.StatusOK, h, []byte(`{"operationId":1,"state":"OPEN"}`))
	if len(r.errs) != 0 {
		t.Errorf("a valid answer reported: %v", r.errs)
	}
}
