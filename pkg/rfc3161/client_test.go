package rfc3161

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTimestamp_ReturnsTokenThatVerifies(t *testing.T) {
	pki := newTestPKI(t)
	url := startTSA(t, tsaHandler(t, pki.issuer(), nil))
	c, err := NewClient([]Server{{Name: "local", URL: url}}, WithRoots(pki.roots))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		h      crypto.Hash
		digest []byte
	}{
		{"sha256", crypto.SHA256, sha(sha256.New(), "hello")},
		{"sha384", crypto.SHA384, sha(sha512.New384(), "hello")},
		{"sha512", crypto.SHA512, sha(sha512.New(), "hello")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := c.Timestamp(context.Background(), tc.digest, tc.h)
			if err != nil {
				t.Fatalf("Timestamp: %v", err)
			}
			tok, err := VerifyToken(der, tc.digest, pki.roots)
			if err != nil {
				t.Fatalf("VerifyToken: %v", err)
			}
			if tok.HashAlgorithm != tc.h || tok.SignerCert == nil || !tok.SignerCert.Equal(pki.tsaCert) {
				t.Errorf("token hash %v signer %v", tok.HashAlgorithm, tok.SignerCert)
			}
			if d := time.Since(tok.GenTime); d < -time.Second || d > 5*time.Second {
				t.Errorf("genTime %v is not now", tok.GenTime)
			}
			if tok.Policy.String() != "1.2.3.4.1" || tok.Accuracy != time.Second || tok.SerialNumber.Sign() <= 0 {
				t.Errorf("policy %v accuracy %v serial %v", tok.Policy, tok.Accuracy, tok.SerialNumber)
			}
		})
	}
}

func TestVerifyToken_RejectsOtherDigestAndUntrustedRoot(t *testing.T) {
	pki := newTestPKI(t)
	c, _ := NewClient([]Server{{URL: startTSA(t, tsaHandler(t, pki.issuer(), nil))}})
	digest := sha(sha256.New(), "doc")
	der, err := c.Timestamp(context.Background(), digest, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyToken(der, sha(sha256.New(), "other"), pki.roots); !errors.Is(err, ErrImprintMismatch) {
		t.Errorf("other digest: got %v, want ErrImprintMismatch", err)
	}
	if _, err := VerifyToken(der, digest, newTestPKI(t).roots); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("foreign root: got %v, want an unknown-authority error", err)
	}
	tampered := append([]byte(nil), der...)
	i := strings.Index(string(tampered), string(digest))
	tampered[i] ^= 1 // inside the TSTInfo's imprint: breaks the message-digest attribute
	if _, err := VerifyToken(tampered, tampered[i:i+len(digest)], pki.roots); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered token: got %v, want ErrBadSignature", err)
	}
}

func TestTimestamp_FailsOverToNextServer(t *testing.T) {
	pki := newTestPKI(t)
	good := startTSA(t, tsaHandler(t, pki.issuer(), nil))
	down := closedURL(t)
	garbage := startTSA(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>not a time-stamp</html>"))
	}))
	http500 := startTSA(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	c, _ := NewClient([]Server{{Name: "down", URL: down}, {Name: "garbage", URL: garbage},
		{Name: "http500", URL: http500}, {Name: "good", URL: good}})
	digest := sha(sha256.New(), "x")
	der, err := c.Timestamp(context.Background(), digest, crypto.SHA256)
	if err != nil {
		t.Fatalf("Timestamp: %v", err)
	}
	if _, err := VerifyToken(der, digest, pki.roots); err != nil {
		t.Fatal(err)
	}
}

func TestTimestamp_NamesEveryServerWhenAllFail(t *testing.T) {
	down := closedURL(t)
	garbage := startTSA(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte{0x30, 0x00}) }))
	c, _ := NewClient([]Server{{Name: "primary", URL: down}, {Name: "backup", URL: garbage}})
	_, err := c.Timestamp(context.Background(), sha(sha256.New(), "x"), crypto.SHA256)
	var all *AllServersFailedError
	if !errors.As(err, &all) || len(all.Failures) != 2 {
		t.Fatalf("got %v, want AllServersFailedError with 2 failures", err)
	}
	msg := err.Error()
	for _, want := range []string{"primary (" + down, "connection refused", "backup (" + garbage, "malformed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestTimestamp_TimesOutHangingServer(t *testing.T) {
	pki := newTestPKI(t)
	release := make(chan struct{})
	hang := startTSA(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	good := startTSA(t, tsaHandler(t, pki.issuer(), nil))

	c, _ := NewClient([]Server{{Name: "hang", URL: hang, Timeout: time.Second}})
	start := time.Now()
	_, err := c.Timestamp(context.Background(), sha(sha256.New(), "x"), crypto.SHA256)
	if elapsed := time.Since(start); elapsed < time.Second || elapsed > 3*time.Second {
		t.Errorf("gave up after %v, want about 1s", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}

	c, _ = NewClient([]Server{{Name: "hang", URL: hang, Timeout: time.Second}, {Name: "good", URL: good}})
	if _, err := c.Timestamp(context.Background(), sha(sha256.New(), "x"), crypto.SHA256); err != nil {
		t.Errorf("failover after timeout: %v", err)
	}
}

func TestTimestamp_RejectsMisbehavingTSA(t *testing.T) {
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name   string
		tamper func(*Request)
		want   error
	}{
		{"nonce changed", func(r *Request) { r.Nonce = new(big.Int).Add(r.Nonce, big.NewInt(1)) }, ErrNonceMismatch},
		{"nonce dropped", func(r *Request) { r.Nonce = nil }, ErrNonceMismatch},
		{"other digest", func(r *Request) { r.Digest = sha(sha256.New(), "other") }, ErrImprintMismatch},
		{"certificate withheld", func(r *Request) { r.CertReq = false }, ErrNoCertificate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := NewClient([]Server{{URL: startTSA(t, tsaHandler(t, pki.issuer(), tc.tamper))}})
			_, err := c.Timestamp(context.Background(), sha(sha256.New(), "x"), crypto.SHA256)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTimestamp_RejectsTokenFromUntrustedTSA(t *testing.T) {
	other := newTestPKI(t)
	c, _ := NewClient([]Server{{URL: startTSA(t, tsaHandler(t, other.issuer(), nil))}}, WithRoots(newTestPKI(t).roots))
	if _, err := c.Timestamp(context.Background(), sha(sha256.New(), "x"), crypto.SHA256); err == nil {
		t.Fatal("token from a TSA outside the configured roots was accepted")
	}
}

func TestTimestamp_ReportsRejection(t *testing.T) {
	url := startTSA(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		der, _ := (&Response{Status: StatusRejection, Failures: []FailureInfo{FailUnacceptedPolicy},
			StatusText: []string{"no such policy"}}).Marshal()
		w.Write(der)
	}))
	c, _ := NewClient([]Server{{URL: url}})
	_, err := c.Timestamp(context.Background(), sha(sha256.New(), "x"), crypto.SHA256)
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "unacceptedPolicy: no such policy") {
		t.Errorf("got %v", err)
	}
}

func TestTimestamp_SendsCredentialsAndHeaders(t *testing.T) {
	pki := newTestPKI(t)
	inner := tsaHandler(t, pki.issuer(), nil)
	url := startTSA(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "alice" || p != "s3cret" || r.Header.Get("X-Api-Key") != "k" ||
			r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	c, _ := NewClient([]Server{{URL: url, Username: "alice", Password: "s3cret", Headers: map[string]string{"X-Api-Key": "k"}}})
	if _, err := c.Timestamp(context.Background(), sha(sha256.New(), "x"), crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

func TestNewClient_ValidatesServers(t *testing.T) {
	if _, err := NewClient(nil); err == nil {
		t.Error("no servers accepted")
	}
	if _, err := NewClient([]Server{{URL: "ftp://tsa"}}); err == nil {
		t.Error("ftp URL accepted")
	}
	c, err := NewClient([]Server{{URL: "http://a"}, {URL: "http://b", Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if c.servers[0].Timeout != DefaultTimeout || c.servers[1].Timeout != MaxTimeout || MaxTimeout >= 5*time.Second {
		t.Errorf("timeouts %v, %v", c.servers[0].Timeout, c.servers[1].Timeout)
	}
	if _, err := c.Timestamp(context.Background(), []byte("short"), crypto.SHA256); !errors.Is(err, ErrMalformed) {
		t.Errorf("short digest: %v", err)
	}
	if _, err := c.Timestamp(context.Background(), make([]byte, 20), crypto.SHA1); !errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("SHA-1: %v", err)
	}
}

func TestResponse_RoundTripsRejection(t *testing.T) {
	in := &Response{Status: StatusRejection, Failures: []FailureInfo{FailBadAlg, FailSystemFailure}, StatusText: []string{"a", "b"}}
	der, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseResponse(der)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != in.Status || len(out.Failures) != 2 || out.Failures[1] != FailSystemFailure || len(out.StatusText) != 2 {
		t.Errorf("got %+v", out)
	}
}

func FuzzParseRequest(f *testing.F) {
	req, _ := (&Request{HashAlgorithm: crypto.SHA256, Digest: make([]byte, 32), Nonce: big.NewInt(7), CertReq: true}).Marshal()
	f.Add(req)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := ParseRequest(der)
		if err != nil {
			return
		}
		if _, err := r.Marshal(); err != nil {
			t.Errorf("parsed request does not marshal: %v", err)
		}
	})
}

func FuzzParseToken(f *testing.F) {
	pki := newTestPKI(f)
	tok, _ := pki.issuer().Issue(context.Background(), &Request{HashAlgorithm: crypto.SHA256, Digest: make([]byte, 32), CertReq: true}, time.Now())
	f.Add(tok)
	f.Fuzz(func(t *testing.T, der []byte) {
		if tok, err := ParseToken(der); err == nil {
			_, _ = tok.VerifySignature(nil)
		}
	})
}

func sha(h interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, s string) []byte {
	h.Write([]byte(s))
	return h.Sum(nil)
}

// closedURL is the URL of a loopback port nobody listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}
