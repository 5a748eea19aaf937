package webhook_test

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/internal/webhook"
)

func TestValidateURL(t *testing.T) {
	strict := webhook.URLPolicy{}
	lax := webhook.URLPolicy{AllowHTTP: true, AllowPrivate: true}
	tests := []struct {
		name   string
		policy webhook.URLPolicy
		url    string
		want   string // canonical form; empty when refused
		reason string // part of the refusal
	}{
		{"https", strict, "https://hooks.example.com/vellum?x=1", "https://hooks.example.com/vellum?x=1", ""},
		{"case folded", strict, "HTTPS://Hooks.Example.COM/Path", "https://hooks.example.com/Path", ""},
		{"port", strict, "https://hooks.example.com:8443/", "https://hooks.example.com:8443/", ""},
		{"public ip", strict, "https://93.184.215.14/x", "https://93.184.215.14/x", ""},
		{"http refused", strict, "http://hooks.example.com/", "", "https"},
		{"http allowed", lax, "http://hooks.example.com/", "http://hooks.example.com/", ""},
		{"other scheme", lax, "ftp://hooks.example.com/", "", "https"},
		{"relative", lax, "/hooks", "", "https"},
		{"empty", lax, " ", "", "empty"},
		{"credentials", strict, "https://user:pw@hooks.example.com/", "", "credentials"},
		{"fragment", strict, "https://hooks.example.com/#x", "", "fragment"},
		{"spaces", strict, "https://hooks.example.com/a b", "", "spaces"},
		{"loopback ip", strict, "https://127.0.0.1/", "", "non-public"},
		{"loopback ipv6", strict, "https://[::1]/", "", "non-public"},
		{"mapped loopback", strict, "https://[::ffff:127.0.0.1]/", "", "non-public"},
		{"metadata", strict, "https://169.254.169.254/latest/meta-data", "", "non-public"},
		{"metadata ipv6", strict, "https://[fd00:ec2::254]/", "", "non-public"},
		{"cgnat", strict, "https://100.64.1.1/", "", "non-public"},
		{"private", strict, "https://10.0.0.1/", "", "non-public"},
		{"unspecified", strict, "https://0.0.0.0/", "", "non-public"},
		{"localhost", strict, "https://localhost/", "", "localhost"},
		{"localhost subdomain", strict, "https://api.localhost./", "", "localhost"},
		{"decimal ip", strict, "https://2130706433/", "", "numeric"},
		{"octal ip", strict, "https://0177.0.0.1/", "", "numeric"},
		{"short ip", strict, "https://127.1/", "", "numeric"},
		{"hex ip", strict, "https://0x7f000001/", "", "numeric"},
		{"zone", lax, "https://[fe80::1%25eth0]/", "", "zone"},
		{"bad port", strict, "https://hooks.example.com:0/", "", "port"},
		{"big port", strict, "https://hooks.example.com:70000/", "", "port"},
		{"empty port", strict, "https://hooks.example.com:/", "", "port"},
		{"bad host", strict, "https://hooks..example.com/", "", "host name"},
		{"private allowed", lax, "http://127.0.0.1:8080/h", "http://127.0.0.1:8080/h", ""},
		{"localhost allowed", lax, "http://localhost:8080/h", "http://localhost:8080/h", ""},
		{"too long", strict, "https://hooks.example.com/" + strings.Repeat("a", 2048), "", "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.policy.ValidateURL(tt.url)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("ValidateURL(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateURL(%q) = %q, want refusal mentioning %q", tt.url, got, tt.reason)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("ValidateURL(%q) refused with %q, want it to mention %q", tt.url, err, tt.reason)
			}
		})
	}
}

// FuzzValidateURL holds the validator to its promises on any input: no
// panic; what it accepts is an absolute http(s) URL without credentials or
// fragment, whose literal address (if any) is public, and validating the
// canonical form again gives the same result.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{
		"https://hooks.example.com/vellum", "http://127.0.0.1:8080/", "https://[::ffff:127.0.0.1]/",
		"https://user@host/", "https://0x7f.1/", "https://[fe80::1%25en0]:443/", "https://a.b.c:65535/p?q#f",
		"javascript:alert(1)", "https://xn--80ak6aa92e.com/", "https:///path", "https://[::1", "https://%31%32%37.0.0.1/",
	} {
		f.Add(s)
	}
	strict := webhook.URLPolicy{}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := strict.ValidateURL(raw)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil {
			t.Fatalf("accepted %q as %q, which does not parse: %v", raw, got, perr)
		}
		if u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("accepted %q as %q: scheme %q host %q user %v fragment %q", raw, got, u.Scheme, u.Host, u.User, u.Fragment)
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !outbound.PublicAddress(ip) {
			t.Fatalf("accepted %q whose address %s is not public", raw, ip)
		}
		if h := u.Hostname(); h == "localhost" || strings.HasSuffix(h, ".localhost") {
			t.Fatalf("accepted %q naming localhost", raw)
		}
		again, err := strict.ValidateURL(got)
		if err != nil || again != got {
			t.Fatalf("canonical form %q of %q re-validates as %q, %v", got, raw, again, err)
		}
	})
}

// The guard sits at dial time: an endpoint whose name resolves to loopback
// (here `localhost`, and literal addresses as after DNS rebinding) is
// refused on the address actually dialled, and nothing reaches it.
func TestDeliver_GuardRefusesPrivateAddressesAtDialTime(t *testing.T) {
	rc := newReceiver(t, false, nil)
	cfg := fastConfig()
	cfg.AllowPrivate = false
	cfg.Schedule = []time.Duration{time.Millisecond}
	h := start(t, cfg, 4, nil)
	port := rc.Listener.Addr().String()
	port = port[strings.LastIndex(port, ":"):]
	for _, target := range []string{
		"http://localhost" + port + "/",          // a name resolving to 127.0.0.1
		"http://127.0.0.1" + port + "/",          // literal
		"http://[::ffff:127.0.0.1]" + port + "/", // IPv4-mapped IPv6
	} {
		t.Run(target, func(t *testing.T) {
			// Registered while it pointed elsewhere (public), then rebound.
			ep := h.create(t, "http://hooks.example.com/rebinding")
			if err := pg.DB.Conn(context.Background()).Exec("UPDATE webhook_endpoints SET url = ? WHERE id = ?", target, ep.ID).Error; err != nil {
				t.Fatal(err)
			}
			ev := h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_ssrf"})
			eventually(t, 20*time.Second, "delivery FAILED", func() bool {
				return h.deliveryOf(t, ep.ID, ev.ID).Status == webhook.StatusFailed
			})
			d := h.deliveryOf(t, ep.ID, ev.ID)
			for _, a := range d.Attempts {
				if a.ResponseStatus != nil || !strings.Contains(a.Error, "non-public") {
					t.Errorf("attempt %d: status %v error %q, want refused by the guard", a.Number, a.ResponseStatus, a.Error)
				}
			}
			// Only this endpoint's deliveries exist; nothing else to wait for.
			if err := pg.DB.Conn(context.Background()).Exec("DELETE FROM webhook_endpoints WHERE id = ?", ep.ID).Error; err != nil {
				t.Fatal(err)
			}
		})
	}
	if rc.count() != 0 {
		t.Fatalf("the loopback receiver got %d requests through the guard", rc.count())
	}
	// Registration refuses the obvious forms outright.
	for _, u := range []string{"https://localhost/", "https://127.0.0.1/", "https://[::ffff:127.0.0.1]/", "https://169.254.169.254/"} {
		if _, err := h.svc.Create(context.Background(), h.scope, webhook.CreateInput{URL: u}); err == nil {
			t.Errorf("registered %s with the guard on", u)
		}
	}
}
