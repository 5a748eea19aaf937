package webhookverify_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

// The specification's own test vector (standardwebhooks.com, "Signature
// scheme"), also used by the official libraries.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

func atSpecTime() time.Time { return time.Unix(specTS, 0) }

func TestSign_MatchesSpecificationVector(t *testing.T) {
	got, err := webhookverify.Sign(specSecret, specID, time.Unix(specTS, 0), []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSig {
		t.Fatalf("Sign = %s, want %s", got, specSig)
	}
}

func TestVerify(t *testing.T) {
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret of 24 bytes"))
	otherSig, _ := webhookverify.Sign(other, specID, time.Unix(specTS, 0), []byte(specBody))
	tests := []struct {
		name    string
		secrets []string
		h       http.Header
		body    string
		now     time.Time
		want    error
	}{
		{"valid", []string{specSecret}, headers(specID, specTS, specSig), specBody, atSpecTime(), nil},
		{"secret without prefix", []string{specSecret[len("whsec_"):]}, headers(specID, specTS, specSig), specBody, atSpecTime(), nil},
		{"one of several signatures (sender rotating)", []string{specSecret},
			headers(specID, specTS, otherSig+" "+specSig), specBody, atSpecTime(), nil},
		{"one of several secrets (receiver rotating)", []string{other, specSecret},
			headers(specID, specTS, specSig), specBody, atSpecTime(), nil},
		{"unknown versions and junk ignored", []string{specSecret},
			headers(specID, specTS, "v1a,abc v2,!!! nocomma "+specSig), specBody, atSpecTime(), nil},
		{"tampered body", []string{specSecret}, headers(specID, specTS, specSig), `{"test": 2432232315}`, atSpecTime(), webhookverify.ErrNoMatchingSignature},
		{"tampered id", []string{specSecret}, headers("msg_other", specTS, specSig), specBody, atSpecTime(), webhookverify.ErrNoMatchingSignature},
		{"wrong secret", []string{other}, headers(specID, specTS, specSig), specBody, atSpecTime(), webhookverify.ErrNoMatchingSignature},
		{"signature under another version", []string{specSecret},
			headers(specID, specTS, "v2"+specSig[2:]), specBody, atSpecTime(), webhookverify.ErrNoMatchingSignature},
		{"too old", []string{specSecret}, headers(specID, specTS, specSig), specBody, atSpecTime().Add(5*time.Minute + time.Second), webhookverify.ErrTooOld},
		{"just within tolerance", []string{specSecret}, headers(specID, specTS, specSig), specBody, atSpecTime().Add(5 * time.Minute), nil},
		{"too new", []string{specSecret}, headers(specID, specTS, specSig), specBody, atSpecTime().Add(-5*time.Minute - time.Second), webhookverify.ErrTooNew},
		{"missing header", []string{specSecret}, http.Header{"Webhook-Id": {specID}}, specBody, atSpecTime(), webhookverify.ErrMissingHeaders},
		{"timestamp not a number", []string{specSecret}, func() http.Header {
			h := headers(specID, specTS, specSig)
			h.Set("webhook-timestamp", "yesterday")
			return h
		}(), specBody, atSpecTime(), webhookverify.ErrInvalidHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := webhookverify.New(tt.secrets...)
			if err != nil {
				t.Fatal(err)
			}
			now := tt.now
			v.Now = func() time.Time { return now }
			err = v.Verify([]byte(tt.body), tt.h)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNew_RejectsBadSecrets(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := webhookverify.New(s); !errors.Is(err, webhookverify.ErrInvalidSecret) {
			t.Errorf("New(%q) = %v, want ErrInvalidSecret", s, err)
		}
	}
	if _, err := webhookverify.New(); !errors.Is(err, webhookverify.ErrInvalidSecret) {
		t.Errorf("New() = %v, want ErrInvalidSecret", err)
	}
}

// What we sign, the official library accepts, and the other way round.
func TestInterop_OfficialLibrary(t *testing.T) {
	wh, err := standardwebhooks.NewWebhook(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := []byte(`{"type":"envelope.sent","timestamp":"2026-01-01T00:00:00Z","data":{}}`)
	ours, err := webhookverify.Sign(specSecret, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, headers("evt_1", now.Unix(), ours)); err != nil {
		t.Fatalf("official library refuses our signature: %v", err)
	}
	theirs, err := wh.Sign("evt_2", now, body)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := webhookverify.New(specSecret)
	if err := v.Verify(body, headers("evt_2", now.Unix(), theirs)); err != nil {
		t.Fatalf("we refuse the official library's signature: %v", err)
	}
}
