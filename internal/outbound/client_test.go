package outbound_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/outbound"
)

// counter is a loopback server that counts its requests.
type counter struct {
	*httptest.Server
	n atomic.Int64
}

func newCounter(t *testing.T, h http.HandlerFunc) *counter {
	t.Helper()
	c := &counter{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func hostPort(t *testing.T, u string) string {
	t.Helper()
	hp, err := outbound.HostPort(u)
	if err != nil {
		t.Fatal(err)
	}
	return hp
}

func TestClient_RefusesNonPublicAddressesAfterResolution(t *testing.T) {
	srv := newCounter(t, nil)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	c := outbound.NewClient(outbound.Config{Timeout: 5 * time.Second})
	// A literal address, a name that resolves to it, and mapped forms.
	for _, u := range []string{srv.URL, "http://localhost" + port, "http://[::ffff:127.0.0.1]" + port} {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s reached a loopback server", u)
		}
		if !outbound.Forbidden(err) {
			t.Errorf("GET %s: %v, want the guard's refusal", u, err)
		}
	}
	if n := srv.n.Load(); n != 0 {
		t.Fatalf("the loopback server got %d requests", n)
	}
}

func TestClient_AllowsExactlyTheConfiguredHosts(t *testing.T) {
	tsa := newCounter(t, nil)
	other := newCounter(t, nil)
	c := outbound.NewClient(outbound.Config{Timeout: 5 * time.Second, AllowHosts: []string{hostPort(t, tsa.URL)}})
	resp, err := c.Get(tsa.URL + "/tsa")
	if err != nil {
		t.Fatalf("configured host refused: %v", err)
	}
	resp.Body.Close()
	if _, err := c.Get(other.URL); !outbound.Forbidden(err) {
		t.Fatalf("another loopback port: %v, want refused", err)
	}
	if tsa.n.Load() != 1 || other.n.Load() != 0 {
		t.Fatalf("requests: allowed %d, other %d", tsa.n.Load(), other.n.Load())
	}
}

func TestClient_IgnoresProxyFromTheEnvironment(t *testing.T) {
	proxy := newCounter(t, nil)
	target := newCounter(t, nil)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	c := outbound.NewClient(outbound.Config{Timeout: 5 * time.Second, AllowPrivate: true})
	resp, err := c.Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if proxy.n.Load() != 0 || target.n.Load() != 1 {
		t.Fatalf("proxy got %d requests, target %d: want the direct route", proxy.n.Load(), target.n.Load())
	}
}

func TestClient_RedirectsOnlyWhenAskedAndNeverToATrustedHost(t *testing.T) {
	inner := newCounter(t, nil)
	toInner := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL, http.StatusFound)
	})
	// Without redirects the 3xx is the answer.
	c := outbound.NewClient(outbound.Config{Timeout: 5 * time.Second, AllowHosts: []string{hostPort(t, toInner.URL)}})
	resp, err := c.Get(toInner.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want the 302 itself", resp.StatusCode)
	}
	// With redirects, the target is checked like any dial.
	c = outbound.NewClient(outbound.Config{Timeout: 5 * time.Second, MaxRedirects: 3, AllowHosts: []string{hostPort(t, toInner.URL)}})
	if _, err := c.Get(toInner.URL); !outbound.Forbidden(err) {
		t.Fatalf("redirect to a loopback host: %v, want refused", err)
	}
	// An unchecked source may not redirect to a trusted host.
	c = outbound.NewClient(outbound.Config{Timeout: 5 * time.Second, MaxRedirects: 3, AllowPrivate: true, AllowHosts: []string{hostPort(t, inner.URL)}})
	if _, err := c.Get(toInner.URL); !outbound.Forbidden(err) {
		t.Fatalf("redirect to a trusted host: %v, want refused", err)
	}
	if n := inner.n.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}

func TestClient_CapsResponseBodies(t *testing.T) {
	srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "") // stream: no announced length
		_, _ = w.Write([]byte(strings.Repeat("x", 2000)))
		w.(http.Flusher).Flush()
		_, _ = w.Write([]byte(strings.Repeat("x", 2000)))
	})
	for _, limit := range []int64{1000, 4000, 5000} {
		c := outbound.NewClient(outbound.Config{Timeout: 5 * time.Second, AllowPrivate: true, MaxResponseBytes: limit})
		resp, err := c.Get(srv.URL)
		if err != nil {
			if limit < 4000 && errors.Is(err, outbound.ErrResponseTooLarge) {
				continue
			}
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case limit < 4000 && !errors.Is(err, outbound.ErrResponseTooLarge):
			t.Errorf("limit %d: read %d bytes (%v), want ErrResponseTooLarge", limit, len(b), err)
		case limit >= 4000 && (err != nil || len(b) != 4000):
			t.Errorf("limit %d: read %d bytes (%v), want all 4000", limit, len(b), err)
		}
	}
}

func TestPublicAddress(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"100.64.0.1", false}, // CGNAT
		{"100.127.255.255", false},
		{"100.128.0.1", true},
		{"169.254.169.254", false}, // cloud metadata
		{"169.254.1.1", false},
		{"0.0.0.0", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false}, // AWS metadata over IPv6
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:169.254.169.254", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:8.8.8.8", true},
		{"::127.0.0.1", false},         // IPv4-compatible
		{"64:ff9b::7f00:1", false},     // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true},     // NAT64 of 8.8.8.8
		{"2002:7f00:1::", false},       // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", false},   // 6to4 of 169.254.169.254
		{"2002:808:808::1", true},      // 6to4 of 8.8.8.8
		{"2001:db8::1", false},         // documentation
		{"fe80::1%eth0", false},        // zoned link-local
		{"2001:0:4136:e378::1", false}, // Teredo
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := outbound.PublicAddress(a); got != tt.public {
			t.Errorf("PublicAddress(%s) = %v, want %v", tt.addr, got, tt.public)
		}
	}
}
