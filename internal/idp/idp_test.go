package idp_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/idp"
	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/internal/testenv"
)

const redirectURI = "http://127.0.0.1:9/api/v1/signer/oidc/callback"

var ada = testenv.OIDCUser{ID: "u-ada", Username: "19151210-1234", Password: "correct horse",
	FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"}

// startProvider runs the real OpenID provider and a registry naming it
// "testid", reaching it through the outbound guard with its host allowed
// by name, as the application does.
func startProvider(t *testing.T) (*testenv.OIDCProvider, *idp.Registry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	op, err := testenv.StartOIDCProvider(ctx, []string{redirectURI}, []testenv.OIDCUser{ada})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	hp, err := outbound.HostPort(op.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := idp.New([]idp.Provider{{Name: "testid", Issuer: op.Issuer, ClientID: op.ClientID,
		ClientSecret: op.ClientSecret, Scopes: []string{"profile", "email"}, NationalIDClaim: "preferred_username"}},
		redirectURI, outbound.NewClient(outbound.Config{AllowHosts: []string{hp}}))
	if err != nil {
		t.Fatal(err)
	}
	return op, reg
}

func flow(state string) idp.Flow {
	return idp.Flow{State: state, Nonce: "nonce-" + state, Verifier: idp.DerivedVerifier(sha256.Sum256([]byte(state)))}
}

// login runs the browser's part and returns the code the provider sent
// back for f.
func login(t *testing.T, op *testenv.OIDCProvider, reg *idp.Registry, f idp.Flow, password string) string {
	t.Helper()
	ctx := context.Background()
	authURL, err := reg.AuthCodeURL(ctx, "testid", f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"code_challenge_method=S256", "code_challenge=", "nonce=" + f.Nonce, "state=" + f.State} {
		if !strings.Contains(authURL, want) {
			t.Errorf("authorization URL %s lacks %s", authURL, want)
		}
	}
	jar, _ := cookiejar.New(nil)
	back, err := op.Login(ctx, &http.Client{Jar: jar}, authURL, ada.Username, password)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), redirectURI+"?") {
		t.Fatalf("provider sent the browser to %s, want the redirect URI", back)
	}
	if got := back.Query().Get("state"); got != f.State {
		t.Fatalf("state came back as %q, want %q", got, f.State)
	}
	return back.Query().Get("code")
}

func TestExchange_VerifiesTheLoginAndReadsTheNationalID(t *testing.T) {
	op, reg := startProvider(t)
	f := flow("state-one")
	code := login(t, op, reg, f, ada.Password)
	id, err := reg.Exchange(context.Background(), "testid", code, f)
	if err != nil {
		t.Fatal(err)
	}
	if id.Provider != "testid" || id.Issuer != op.Issuer || id.Subject != ada.ID {
		t.Errorf("identity %+v: want provider testid, issuer %s, subject %s", id, op.Issuer, ada.ID)
	}
	if id.Name != "Ada Lovelace" || id.NationalID != ada.Username || id.Email != ada.Email {
		t.Errorf("identity %+v: want name Ada Lovelace, national id %s, e-mail %s", id, ada.Username, ada.Email)
	}
	// A code is redeemed once.
	if _, err := reg.Exchange(context.Background(), "testid", code, f); !errors.Is(err, idp.ErrRejected) {
		t.Errorf("second exchange of the code: %v, want ErrRejected", err)
	}
}

func TestExchange_RefusesAnotherLoginsSecrets(t *testing.T) {
	op, reg := startProvider(t)
	for _, tc := range []struct {
		name   string
		change func(*idp.Flow)
	}{
		// The ID token carries the nonce of the login that started; a
		// token injected into another login does not match.
		{"nonce", func(f *idp.Flow) { f.Nonce = "another-nonce" }},
		// PKCE: a stolen code is worthless without the verifier.
		{"verifier", func(f *idp.Flow) { f.Verifier = idp.DerivedVerifier(sha256.Sum256([]byte("other"))) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := flow("state-" + tc.name)
			code := login(t, op, reg, f, ada.Password)
			tc.change(&f)
			if _, err := reg.Exchange(context.Background(), "testid", code, f); !errors.Is(err, idp.ErrRejected) {
				t.Errorf("exchange with a wrong %s: %v, want ErrRejected", tc.name, err)
			}
		})
	}
}

func TestLogin_WrongPasswordGetsNoCode(t *testing.T) {
	op, reg := startProvider(t)
	authURL, err := reg.AuthCodeURL(context.Background(), "testid", flow("s"))
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	if back, err := op.Login(context.Background(), &http.Client{Jar: jar}, authURL, ada.Username, "wrong"); err == nil {
		t.Fatalf("login with a wrong password came back to %s", back)
	}
}

func TestUnknownProvider_NamesTheConfiguredOnes(t *testing.T) {
	reg, err := idp.New([]idp.Provider{{Name: "bankid", Issuer: "https://bankid.example", ClientID: "c"},
		{Name: "mitid", Issuer: "https://mitid.example", ClientID: "c"}}, redirectURI, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.AuthCodeURL(context.Background(), "nbid", flow("s"))
	if !errors.Is(err, idp.ErrUnknownProvider) || !strings.Contains(err.Error(), "bankid, mitid") {
		t.Errorf("unknown provider: %v, want ErrUnknownProvider naming bankid, mitid", err)
	}
	// A deployment whose configuration no longer names the provider of an
	// envelope's recipient.
	var none *idp.Registry
	if _, err := none.AuthCodeURL(context.Background(), "x", flow("s")); !errors.Is(err, idp.ErrUnknownProvider) ||
		!strings.Contains(err.Error(), "configures no identity provider") {
		t.Errorf("no providers: %v", err)
	}
}

func TestUnreachableIssuer_IsUnavailable(t *testing.T) {
	// The issuer's host is not allowed by name, and loopback is refused by
	// the guard: discovery fails as unavailable, not as a panic or a 500.
	reg, err := idp.New([]idp.Provider{{Name: "x", Issuer: "http://127.0.0.1:9/", ClientID: "c"}}, redirectURI,
		outbound.NewClient(outbound.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.AuthCodeURL(context.Background(), "x", flow("s")); !errors.Is(err, idp.ErrUnavailable) ||
		!strings.Contains(err.Error(), outbound.ErrForbiddenAddress.Error()) {
		t.Errorf("discovery of a loopback issuer through the guard: %v, want ErrUnavailable (forbidden address)", err)
	}
}
