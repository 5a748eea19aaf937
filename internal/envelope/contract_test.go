package envelope_test

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/vellum-sign/vellum/openapi"
)

// contract holds every response of these tests to openapi/openapi.yaml.
var contract struct {
	once   sync.Once
	router routers.Router
	err    error
}

func init() {
	openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/zip", openapi3filter.FileBodyDecoder)
}

type contractTransport struct {
	t    *testing.T
	next http.RoundTripper
}

func (ct contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	contract.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(openapi.YAML)
		if err == nil {
			err = doc.Validate(loader.Context)
		}
		if err != nil {
			contract.err = err
			return
		}
		doc.Servers = nil
		contract.router, contract.err = legacy.NewRouter(doc)
	})
	resp, err := ct.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if contract.err != nil {
		ct.t.Fatalf("contract: openapi.yaml: %v", contract.err)
	}
	route, params, rerr := contract.router.FindRoute(req)
	if rerr != nil {
		if resp.StatusCode != http.StatusNotFound {
			ct.t.Errorf("contract: %s %s is not in openapi.yaml", req.Method, req.URL.Path)
		}
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if verr := openapi3filter.ValidateResponse(req.Context(), in); verr != nil {
		ct.t.Errorf("contract: %s %s → %d violates openapi.yaml: %v\nbody: %.400s", req.Method, req.URL.Path, resp.StatusCode, verr, body)
	}
	return resp, nil
}

func httpClient(t *testing.T) *http.Client {
	return &http.Client{Transport: contractTransport{t: t, next: http.DefaultTransport}}
}
