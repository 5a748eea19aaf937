package webhookverify_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

// A receiver verifies the raw body against the headers before trusting it,
// then de-duplicates by webhook-id.
func Example() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from POST /api/v1/webhooks
	v, err := webhookverify.New(secret)
	if err != nil {
		panic(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := v.Verify(body, r.Header); err != nil {
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		// Seen r.Header.Get("webhook-id") before? Then acknowledge and stop.
		w.WriteHeader(http.StatusNoContent)
	})

	// What Vellum sends:
	body := `{"type":"envelope.completed","timestamp":"2026-01-02T15:04:05Z","data":{"id":"env_1"}}`
	now := time.Now()
	sig, _ := webhookverify.Sign(secret, "evt_1", now, []byte(body))
	req := httptest.NewRequest(http.MethodPost, "/webhooks/vellum", strings.NewReader(body))
	req.Header.Set("webhook-id", "evt_1")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("genuine:", rec.Code)

	req = httptest.NewRequest(http.MethodPost, "/webhooks/vellum", strings.NewReader(strings.Replace(body, "env_1", "env_2", 1)))
	req.Header.Set("webhook-id", "evt_1")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("tampered:", rec.Code)
	// Output:
	// genuine: 204
	// tampered: 400
}
