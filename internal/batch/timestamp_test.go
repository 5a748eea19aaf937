package batch

import (
	"context"
	"crypto"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// TestTimestamper_CallersURLGoesThroughTheGuard: a timestamp.url naming a
// loopback address makes no request unless the operator allows private
// addresses, while the operator's own named TSA on the same address is
// still reached.
func TestTimestamper_CallersURLGoesThroughTheGuard(t *testing.T) {
	var hits atomic.Int32
	tsa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "not a TSA", http.StatusTeapot)
	}))
	defer tsa.Close()
	digest := sha256.Sum256([]byte("document"))
	ask := func(allowPrivate bool, ts *Timestamp) error {
		s := NewService(Deps{
			TSAs: []rfc3161.Server{{Name: "tsa_1", URL: tsa.URL}},
			TSAClient: rfc3161.WithHTTPClient(outbound.NewClient(outbound.Config{
				Timeout: 5 * time.Second, AllowPrivate: allowPrivate})),
		})
		c, err := s.timestamper(ts)
		if err != nil {
			return err
		}
		_, err = c.Timestamp(context.Background(), digest[:], crypto.SHA256)
		return err
	}

	if err := ask(false, &Timestamp{URL: tsa.URL}); err == nil || hits.Load() != 0 {
		t.Fatalf("caller's loopback URL: err %v, %d requests made", err, hits.Load())
	}
	if err := ask(true, &Timestamp{URL: tsa.URL}); err == nil || hits.Load() != 1 {
		t.Fatalf("with private addresses allowed: err %v, %d requests (want the server's refusal, 1)", err, hits.Load())
	}
	if err := ask(false, &Timestamp{Name: "tsa_1"}); err == nil || hits.Load() != 2 {
		t.Fatalf("operator's named TSA: err %v, %d requests (want it reached)", err, hits.Load())
	}
	s := NewService(Deps{})
	if _, err := s.timestamper(&Timestamp{URL: tsa.URL}); err == nil {
		t.Fatal("custom URL accepted without a guarded client")
	}
}
