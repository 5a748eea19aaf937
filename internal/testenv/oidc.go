package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvOIDCBinary names an OpenID provider binary to use instead of
// bin/oidc-op.
const EnvOIDCBinary = "VELLUM_OIDC_OP"

// OIDCUser is a user the test OpenID provider knows. Username is what the
// login form asks for and what the provider returns as preferred_username
// (scope profile); tests use it to carry a national identification number.
type OIDCUser struct {
	ID, Username, Password, FirstName, LastName, Email string
}

// OIDCProvider is a real OpenID Connect provider (zitadel/oidc's example
// OP, pinned in test/tools/go.mod) on localhost: discovery, a
// username/password login form, the authorization code flow with PKCE,
// RS256 ID tokens, userinfo. Its confidential client is ClientID /
// ClientSecret, with the redirect URIs given at start.
type OIDCProvider struct {
	Issuer       string // "http://localhost:PORT/"
	ClientID     string
	ClientSecret string

	cmd       *exec.Cmd
	exited    chan struct{}
	dir       string
	closeOnce sync.Once
	closeErr  error
}

// StartOIDCProvider starts the provider with users and the client's
// redirectURIs, waiting until discovery answers. Close stops it.
func StartOIDCProvider(ctx context.Context, redirectURIs []string, users []OIDCUser) (*OIDCProvider, error) {
	bin, err := toolBinary(ctx, EnvOIDCBinary, "oidc-op", "github.com/zitadel/oidc/v3/example/server")
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		p, err := oidcLaunch(ctx, bin, redirectURIs, users)
		if err == nil {
			return p, nil
		}
		if attempt == 3 || ctx.Err() != nil {
			return nil, fmt.Errorf("start OpenID provider (%s): %w", bin, err)
		}
	}
}

func oidcLaunch(ctx context.Context, bin string, redirectURIs []string, users []OIDCUser) (*OIDCProvider, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vellum-oidc-*")
	if err != nil {
		return nil, fmt.Errorf("create OpenID provider directory: %w", err)
	}
	type opUser struct {
		ID, Username, Password, FirstName, LastName, Email string
		EmailVerified                                      bool
		PreferredLanguage                                  string
	}
	byID := map[string]opUser{}
	for _, u := range users {
		byID[u.ID] = opUser{ID: u.ID, Username: u.Username, Password: u.Password, FirstName: u.FirstName,
			LastName: u.LastName, Email: u.Email, EmailVerified: true, PreferredLanguage: "en"}
	}
	usersJSON, _ := json.Marshal(byID)
	usersFile := filepath.Join(dir, "users.json")
	if err := os.WriteFile(usersFile, usersJSON, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write OpenID provider users: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "op.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create OpenID provider log: %w", err)
	}
	defer logFile.Close()
	p := &OIDCProvider{Issuer: "http://localhost:" + strconv.Itoa(port) + "/", ClientID: "web", ClientSecret: "secret",
		exited: make(chan struct{}), dir: dir}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "USERS_FILE="+usersFile,
		"REDIRECT_URI="+strings.Join(redirectURIs, ","))
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = s3ProcAttr()
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	if err := p.waitReady(ctx, 30*time.Second); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *OIDCProvider) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Issuer+".well-known/openid-configuration", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("OpenID provider exited before answering on %s: %s", p.Issuer, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("OpenID provider did not answer on %s within %s: %s", p.Issuer, limit, p.logTail())
		}
	}
}

// Close stops the provider and deletes its directory.
func (p *OIDCProvider) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = stopGroup(p.cmd, p.exited)
		if err := os.RemoveAll(p.dir); err != nil && p.closeErr == nil {
			p.closeErr = fmt.Errorf("remove OpenID provider directory: %w", err)
		}
	})
	return p.closeErr
}

func (p *OIDCProvider) logTail() string { return fileTail(filepath.Join(p.dir, "op.log")) }

// Login plays the user's browser from authURL (the relying party's
// authorization request): it follows the provider's redirects to its login
// form, submits username and password, and returns where the provider
// finally redirects the browser back to — the relying party's redirect URI
// with code and state, or with error — without requesting it. client
// carries the browser's cookies (a jar) and is given a redirect policy
// for the duration.
func (p *OIDCProvider) Login(ctx context.Context, client *http.Client, authURL, username, password string) (*url.URL, error) {
	issuer, err := url.Parse(p.Issuer)
	if err != nil {
		return nil, err
	}
	saved := client.CheckRedirect
	defer func() { client.CheckRedirect = saved }()
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != issuer.Host || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}
	get := func(u string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, nil, err
		}
		return readResponse(client.Do(req))
	}
	resp, body, err := get(authURL)
	if err != nil {
		return nil, fmt.Errorf("authorization request: %w", err)
	}
	if resp.StatusCode/100 == 3 { // straight back (an error, or a session)
		return resp.Location()
	}
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("provider login form: %s: %.300s", resp.Status, body)
	}
	form := url.Values{"id": {html.UnescapeString(string(m[1]))}, "username": {username}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer.ResolveReference(&url.URL{Path: "/login/username"}).String(),
		strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body, err = readResponse(client.Do(req))
	if err != nil {
		return nil, fmt.Errorf("submit provider login: %w", err)
	}
	if resp.StatusCode/100 != 3 {
		return nil, fmt.Errorf("provider login refused: %s: %.300s", resp.Status, body)
	}
	return resp.Location()
}

func readResponse(resp *http.Response, err error) (*http.Response, []byte, error) {
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, b, err
}
