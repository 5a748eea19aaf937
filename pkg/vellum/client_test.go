package vellum_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/vellum"
)

// These tests pin the client's HTTP behaviour (retries, Idempotency-Key,
// error decoding) with a scripted server: the states they need — a 503, a
// Retry-After of two minutes — cannot be provoked on demand in a real one.
// test/e2e/sdk_test.go runs the client against the real server.

type attempt struct {
	method, path, idemKey, auth, contentType string
	body                                     []byte
}

type script struct {
	mu       sync.Mutex
	attempts []attempt
	answers  []func(w http.ResponseWriter)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.attempts)
	s.attempts = append(s.attempts, attempt{r.Method, r.URL.EscapedPath(), r.Header.Get("Idempotency-Key"),
		r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
	answer := s.answers[min(n, len(s.answers)-1)]
	s.mu.Unlock()
	answer(w)
}

func problem(status int, code string, retryAfter string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Operation-Id", "op-1")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"type":"about:blank","title":"t","status":`+strconv.Itoa(status)+`,"code":"`+code+`","traceId":"trace-1","invalidParams":[{"name":"subject","reason":"is required"}]}`)
	}
}

func ok(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func newClient(t *testing.T, s *script, opts ...vellum.Option) *vellum.Client {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := vellum.NewClient(append([]vellum.Option{vellum.WithBaseURL(srv.URL), vellum.WithAPIKey("sk_test_x"),
		vellum.WithRetries(3, 5*time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUpload_RetriedOn429And503WithTheSameKeyAndBytes(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter){
		problem(429, "rate_limited", "0"),
		problem(503, "unavailable", "0"),
		ok(201, `{"id":"doc_1"}`),
	}}
	c := newClient(t, s)
	content := bytes.NewReader([]byte("%PDF-1.7 body"))
	d, err := c.Documents.Upload(context.Background(), content, &vellum.UploadParams{Filename: "a.pdf", Title: "A"})
	if err != nil || d.ID != "doc_1" {
		t.Fatalf("upload: %v %+v", err, d)
	}
	if len(s.attempts) != 3 {
		t.Fatalf("%d attempts, want 3", len(s.attempts))
	}
	first := s.attempts[0]
	if first.idemKey == "" || !bytes.Contains(first.body, []byte("%PDF-1.7 body")) || !strings.HasPrefix(first.contentType, "multipart/form-data; boundary=") {
		t.Fatalf("first attempt: %+v", first)
	}
	for _, a := range s.attempts[1:] {
		if a.idemKey != first.idemKey || a.contentType != first.contentType || !bytes.Equal(a.body, first.body) {
			t.Fatalf("a retry differs from the first attempt:\n%+v\n%+v", first, a)
		}
	}
}

func TestUpload_FromAPlainReaderIsSentOnce(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter){problem(503, "unavailable", "0"), ok(201, `{"id":"doc_1"}`)}}
	c := newClient(t, s)
	_, err := c.Documents.Upload(context.Background(), io.MultiReader(strings.NewReader("%PDF-")), nil)
	var apiErr *vellum.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 503 || len(s.attempts) != 1 {
		t.Fatalf("err %v after %d attempts; want the 503 after 1", err, len(s.attempts))
	}
}

func TestRetry_BoundedAndOnlyWhereSafe(t *testing.T) {
	for _, tc := range []struct {
		name     string
		call     func(c *vellum.Client) error
		answer   func(http.ResponseWriter)
		attempts int
	}{
		{"GET on 503: 1 + 3 retries", func(c *vellum.Client) error { _, err := c.Envelopes.Get(context.Background(), "env_1"); return err },
			problem(503, "unavailable", "0"), 4},
		{"keyed POST while the key is in use", func(c *vellum.Client) error { _, err := c.Envelopes.Send(context.Background(), "env_1"); return err },
			problem(409, "idempotency_key_in_use", "0"), 4},
		{"PATCH on 503 is not retried", func(c *vellum.Client) error {
			_, err := c.Envelopes.Update(context.Background(), "env_1", &vellum.EnvelopeRequest{Subject: "s"})
			return err
		}, problem(503, "unavailable", "0"), 1},
		{"PATCH on 429 is retried (nothing ran)", func(c *vellum.Client) error {
			_, err := c.Envelopes.Update(context.Background(), "env_1", &vellum.EnvelopeRequest{Subject: "s"})
			return err
		}, problem(429, "rate_limited", "0"), 4},
		{"other conflicts are final", func(c *vellum.Client) error { _, err := c.Envelopes.Send(context.Background(), "env_1"); return err },
			problem(409, "invalid_state", "0"), 1},
		{"a Retry-After beyond the bound is not waited for", func(c *vellum.Client) error { _, err := c.Envelopes.Get(context.Background(), "env_1"); return err },
			problem(429, "rate_limited", "120"), 1},
		{"400 is final", func(c *vellum.Client) error {
			_, err := c.Envelopes.Create(context.Background(), &vellum.EnvelopeRequest{})
			return err
		},
			problem(400, "validation_failed", ""), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{answers: []func(http.ResponseWriter){tc.answer}}
			err := tc.call(newClient(t, s))
			var apiErr *vellum.Error
			if !errors.As(err, &apiErr) || apiErr.TraceID != "trace-1" || len(apiErr.InvalidParams) != 1 {
				t.Fatalf("error %#v", err)
			}
			if len(s.attempts) != tc.attempts {
				t.Fatalf("%d attempts, want %d", len(s.attempts), tc.attempts)
			}
		})
	}
}

func TestRetry_WaitEndsWithTheContext(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter){problem(429, "rate_limited", "3")}}
	c := newClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the first attempt has been answered: the client is then
	// waiting out Retry-After.
	go func() {
		for {
			s.mu.Lock()
			n := len(s.attempts)
			s.mu.Unlock()
			if n > 0 {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err := c.Documents.Get(ctx, "doc_1")
	var apiErr *vellum.Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &apiErr) || apiErr.Status != 429 || len(s.attempts) != 1 {
		t.Fatalf("err %v after %d attempts", err, len(s.attempts))
	}
}

func TestHeaders_KeyUserAgentIdempotency(t *testing.T) {
	var ua string
	s := &script{answers: []func(http.ResponseWriter){ok(200, `{"envelope":{"id":"env_1"}}`)}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.Header.Get("User-Agent")
		s.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := vellum.NewClient(vellum.WithBaseURL(srv.URL+"/prefix/"), vellum.WithAPIKey("sk_test_x"), vellum.WithUserAgent("acme/2"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := vellum.WithIdempotencyKey(context.Background(), "order-42")
	if _, err := c.Envelopes.Send(ctx, "env_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Signer.Sign(context.Background(), "tok/en", &vellum.SignRequest{Consent: true}); err != nil {
		t.Fatal(err)
	}
	send, sign := s.attempts[0], s.attempts[1]
	if send.path != "/prefix/api/v1/envelopes/env_1/send" || send.idemKey != "order-42" || send.auth != "Bearer sk_test_x" {
		t.Errorf("send: %+v", send)
	}
	if sign.path != "/prefix/api/v1/signer/tok%2Fen/sign" || sign.idemKey != "" || sign.auth != "" {
		t.Errorf("the signer API got an API key, an Idempotency-Key or a mangled token: %+v", sign)
	}
	if !strings.HasPrefix(ua, "acme/2 vellum-go/") {
		t.Errorf("User-Agent %q", ua)
	}
}

func TestError_FromANonProblemBody(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter){func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		_, _ = io.WriteString(w, "<html>bad gateway</html>")
	}}}
	_, err := newClient(t, s).Keys.Create(context.Background(), nil)
	var apiErr *vellum.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Title != "Bad Gateway" || !strings.Contains(apiErr.Detail, "bad gateway") {
		t.Fatalf("%#v", err)
	}
}

func TestTokenFromSignURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://sign.example.com/s/abc123":      "abc123",
		"http://127.0.0.1:8080/base/s/Zm9v-_bar": "Zm9v-_bar",
		"https://sign.example.com/s/":            "",
		"https://sign.example.com/docs":          "",
	} {
		got, err := vellum.TokenFromSignURL(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("%s: %q, %v", in, got, err)
		}
	}
}

func TestUpload_FileIsSizedAndRewoundForARetry(t *testing.T) {
	path := t.TempDir() + "/a.pdf"
	if err := os.WriteFile(path, []byte("%PDF-1.7 from a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lengths []int64
	s := &script{answers: []func(http.ResponseWriter){problem(503, "unavailable", "0"), ok(201, `{"id":"doc_1"}`)}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lengths = append(lengths, r.ContentLength)
		s.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := vellum.NewClient(vellum.WithBaseURL(srv.URL), vellum.WithAPIKey("sk_test_x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Documents.Upload(context.Background(), f, nil); err != nil {
		t.Fatal(err)
	}
	if len(s.attempts) != 2 || !bytes.Equal(s.attempts[0].body, s.attempts[1].body) || !bytes.Contains(s.attempts[1].body, []byte("from a file")) {
		t.Fatalf("attempts: %+v", s.attempts)
	}
	if lengths[0] != int64(len(s.attempts[0].body)) || lengths[1] != lengths[0] {
		t.Fatalf("Content-Length %v for a %d-byte body", lengths, len(s.attempts[0].body))
	}
}

func TestFieldRequest_SendsOnlyThePlacementUsed(t *testing.T) {
	for _, tc := range []struct {
		f    vellum.FieldRequest
		want string
	}{
		{vellum.FieldRequest{DocumentID: "doc_1", Type: vellum.FieldSignature, Page: 1, X: 0, Y: 0, Width: 100, Height: 40},
			`{"documentId":"doc_1","type":"SIGNATURE","page":1,"x":0,"y":0,"width":100,"height":40}`},
		{vellum.FieldRequest{DocumentID: "doc_1", Type: vellum.FieldSignature, FieldName: "ClientSignature"},
			`{"documentId":"doc_1","type":"SIGNATURE","fieldName":"ClientSignature"}`},
		{vellum.FieldRequest{DocumentID: "doc_1", Type: vellum.FieldSignature, AnchorString: "Signature:", Width: 120, Height: 30},
			`{"documentId":"doc_1","type":"SIGNATURE","anchorString":"Signature:","width":120,"height":30}`},
	} {
		got, err := json.Marshal(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		_ = json.Unmarshal(got, &a)
		_ = json.Unmarshal([]byte(tc.want), &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%+v:\n got %s\nwant %s", tc.f, got, tc.want)
		}
	}
}
