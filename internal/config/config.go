// Package config is Vellum's one configuration struct, read from VELLUM_*
// environment variables (flags override some) and validated before anything
// starts, with errors that name the variable to fix.
package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is everything a Vellum process needs to know.
type Config struct {
	// Addr is the HTTP listen address (VELLUM_ADDR).
	Addr string
	// PublicURL is the externally visible base URL, used in signUrl links,
	// certificate AIA/CRL URLs and e-mails (VELLUM_PUBLIC_URL).
	PublicURL string

	DatabaseURL string // VELLUM_DATABASE_URL
	RedisURL    string // VELLUM_REDIS_URL

	Blob BlobConfig
	SMTP SMTPConfig
	// Mail is how serve and worker deliver e-mail (VELLUM_MAIL): "smtp"
	// through VELLUM_SMTP_HOST, or "log", which only logs each message and
	// must be chosen explicitly, so that no deployment drops signing links
	// because a variable went missing.
	Mail string

	// TokenSecret (hex, ≥ 32 bytes) derives signing-link tokens and
	// one-time codes, so the database stores only their hashes
	// (VELLUM_TOKEN_SECRET). Empty: a key generated once and kept in the
	// database.
	TokenSecret string

	// OpsToken guards /ops/queues; empty disables the dashboard (VELLUM_OPS_TOKEN).
	OpsToken string
	// MetricsAddr is a separate listener for /metrics; empty serves it on
	// the main port behind OpsToken (VELLUM_METRICS_ADDR).
	MetricsAddr string
	// TrustedProxies are the peers (IPs or CIDRs) whose X-Forwarded-For is
	// believed; empty believes none (VELLUM_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix

	LogLevel  string // VELLUM_LOG_LEVEL: debug, info, warn, error
	LogFormat string // VELLUM_LOG_FORMAT: json or text

	WorkerConcurrency int           // VELLUM_WORKER_CONCURRENCY
	ShutdownTimeout   time.Duration // VELLUM_SHUTDOWN_TIMEOUT
	// DrainDelay is how long serve keeps answering, with /readyz at 503,
	// after SIGTERM before it closes its listener (VELLUM_DRAIN_DELAY).
	DrainDelay time.Duration
	// RelayAfter is how long an enqueued task may stay unfinished before the
	// outbox hands it to Redis again (VELLUM_OUTBOX_RELAY_AFTER).
	RelayAfter time.Duration

	PKI PKIConfig

	// RateLimitPerMinute and RateLimitBurst limit each API key
	// (VELLUM_RATE_LIMIT_PER_MINUTE, VELLUM_RATE_LIMIT_BURST); 0 disables.
	RateLimitPerMinute int
	RateLimitBurst     int
	// IPRateLimitPerMinute and IPRateLimitBurst limit each client IP on
	// public routes and failed authentication (VELLUM_IP_RATE_LIMIT_*).
	IPRateLimitPerMinute int
	IPRateLimitBurst     int
	// MaxUploadBytes is the largest document accepted (VELLUM_MAX_UPLOAD_BYTES).
	MaxUploadBytes int64

	Webhook WebhookConfig
	// OutboundAllowPrivate lets fetches that uploaded documents steer (OCSP,
	// CRL and caIssuers URLs of their certificates) reach loopback, private
	// and metadata addresses (VELLUM_OUTBOUND_ALLOW_PRIVATE). The operator's
	// own endpoints (VELLUM_TSA_URLS, VELLUM_PUBLIC_URL) are reachable
	// without it.
	OutboundAllowPrivate bool

	// RemSigDataSources are the URL prefixes RemSig's data.http may fetch
	// from (VELLUM_REMSIG_DATA_SOURCES); none: data.http is refused.
	RemSigDataSources []string

	// OIDCProviders are the OpenID Connect providers signers may be
	// required to log in with (VELLUM_OIDC_PROVIDERS).
	OIDCProviders []OIDCProvider

	// FontPaths are TrueType fonts tried, in order, for characters of names
	// and text the built-in fonts lack (VELLUM_FONT_PATH).
	FontPaths []string
	// KEK configures the keys that protect persons' private keys.
	KEK KEKConfig
	// PKCS11 is the token that may hold the KEKs and the platform keys.
	PKCS11 PKCS11Config
	// Portal configures the certificate portal's login sessions.
	Portal PortalConfig

	// DataDir holds everything `vellum dev` keeps (VELLUM_DATA_DIR).
	DataDir string
	// DevAPIKey makes `vellum dev` use this test key (VELLUM_DEV_API_KEY).
	DevAPIKey string
}

// WebhookConfig tunes webhook delivery.
type WebhookConfig struct {
	// AllowPrivate lets deliveries reach loopback, private, link-local,
	// CGNAT and cloud-metadata addresses (VELLUM_WEBHOOK_ALLOW_PRIVATE);
	// `vellum dev` defaults it to true, production must not.
	AllowPrivate bool
	// AllowHTTP accepts http:// endpoint URLs (VELLUM_WEBHOOK_ALLOW_HTTP).
	AllowHTTP bool
	// Timeout bounds one delivery attempt (VELLUM_WEBHOOK_TIMEOUT).
	Timeout time.Duration
	// Retention keeps finished deliveries and their attempts
	// (VELLUM_WEBHOOK_RETENTION).
	Retention time.Duration
}

// KEKConfig names the deployment's two key-encryption keys: the KEK, which
// with a certificate's PIN seals its private key, and the recovery key,
// which with the KEK lets a PIN reset keep the key. Each is 32 bytes in
// base64, or the label of an AES key on the PKCS #11 token.
type KEKConfig struct {
	Key           string // VELLUM_KEK
	Recovery      string // VELLUM_KEK_RECOVERY
	KeyLabel      string // VELLUM_KEK_PKCS11_LABEL
	RecoveryLabel string // VELLUM_KEK_RECOVERY_PKCS11_LABEL
}

// PKCS11Config locates the PKCS #11 token (an HSM) that holds whichever
// keys are configured by label: the KEKs and the platform keys.
type PKCS11Config struct {
	Module     string // VELLUM_PKCS11_MODULE
	TokenLabel string // VELLUM_PKCS11_TOKEN_LABEL
	PIN        string // VELLUM_PKCS11_PIN
}

// Configured reports whether a module and a token are named.
func (p PKCS11Config) Configured() bool { return p.Module != "" && p.TokenLabel != "" }

// Configured reports whether any key-encryption key is set.
func (k KEKConfig) Configured() bool {
	return k.Key != "" || k.Recovery != "" || k.KeyLabel != "" || k.RecoveryLabel != ""
}

// OIDCProvider is one entry of VELLUM_OIDC_PROVIDERS.
type OIDCProvider struct {
	Name            string   `json:"name"`
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"clientId"`
	ClientSecret    string   `json:"clientSecret"`
	Scopes          []string `json:"scopes"`
	NationalIDClaim string   `json:"nationalIdClaim"`
}

// oidcProviderName is a provider's name: short, lower-case, URL-safe.
var oidcProviderName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// PortalConfig tunes the certificate portal's sessions.
type PortalConfig struct {
	SessionLifetime    time.Duration // VELLUM_PORTAL_SESSION_LIFETIME
	SessionIdleTimeout time.Duration // VELLUM_PORTAL_SESSION_IDLE_TIMEOUT
}

// BlobConfig selects and configures blob storage.
type BlobConfig struct {
	Backend string // VELLUM_BLOB_BACKEND: s3 or fs
	Dir     string // VELLUM_BLOB_DIR, for fs

	S3Endpoint        string // VELLUM_S3_ENDPOINT
	S3Region          string // VELLUM_S3_REGION
	S3Bucket          string // VELLUM_S3_BUCKET
	S3AccessKeyID     string // VELLUM_S3_ACCESS_KEY_ID
	S3SecretAccessKey string // VELLUM_S3_SECRET_ACCESS_KEY
	S3PathStyle       bool   // VELLUM_S3_PATH_STYLE
	S3Prefix          string // VELLUM_S3_PREFIX
}

// PKIConfig locates the platform PKI and the time-stamp authorities.
type PKIConfig struct {
	// Dir holds root.crt, issuing.crt/.key, seal.crt/.key, tsa.crt/.key
	// (VELLUM_PKI_DIR); `vellum pki init` creates it.
	Dir string
	// TSABuiltin serves the built-in RFC 3161 TSA at POST /tsa (VELLUM_TSA_BUILTIN).
	TSABuiltin bool
	// TSAURLs are the time-stamp authorities used when signing, tried in
	// order (VELLUM_TSA_URLS); empty means the built-in one at PublicURL/tsa.
	TSAURLs []string
	// IssuingKeyLabel, SealKeyLabel and TSAKeyLabel name key pairs on the
	// PKCS #11 token (VELLUM_PKCS11_MODULE, _TOKEN_LABEL, _PIN) used instead
	// of issuing.key, seal.key and tsa.key in Dir
	// (VELLUM_PKCS11_ISSUING_KEY_LABEL, VELLUM_PKCS11_SEAL_KEY_LABEL,
	// VELLUM_PKCS11_TSA_KEY_LABEL).
	IssuingKeyLabel, SealKeyLabel, TSAKeyLabel string
}

// SMTPConfig configures outgoing mail.
type SMTPConfig struct {
	Host     string // VELLUM_SMTP_HOST
	Port     int    // VELLUM_SMTP_PORT
	Username string // VELLUM_SMTP_USERNAME
	Password string // VELLUM_SMTP_PASSWORD
	From     string // VELLUM_SMTP_FROM
	// TLS is "starttls" (default), "tls" (implicit) or "none".
	TLS string // VELLUM_SMTP_TLS
}

// Var describes one environment variable, for --help and the README table.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable Load reads.
var Vars = []Var{
	{"VELLUM_ADDR", ":8080", "HTTP listen address"},
	{"VELLUM_PUBLIC_URL", "http://localhost:8080", "externally visible base URL (signUrl links, PKI URLs, e-mails)"},
	{"VELLUM_DATABASE_URL", "", "postgres://user:pass@host:5432/db?sslmode=disable (required for serve, worker, migrate)"},
	{"VELLUM_REDIS_URL", "", "redis://[:pass@]host:6379/0, rediss://…, or redis-sentinel://… (required for serve, worker)"},
	{"VELLUM_BLOB_BACKEND", "s3", "s3 or fs"},
	{"VELLUM_BLOB_DIR", "", "directory for the fs backend"},
	{"VELLUM_S3_ENDPOINT", "", "S3-compatible endpoint URL; empty means AWS"},
	{"VELLUM_S3_REGION", "us-east-1", "S3 region"},
	{"VELLUM_S3_BUCKET", "", "bucket (required for the s3 backend)"},
	{"VELLUM_S3_ACCESS_KEY_ID", "", "static access key; empty uses the AWS default credential chain"},
	{"VELLUM_S3_SECRET_ACCESS_KEY", "", "static secret key"},
	{"VELLUM_S3_PATH_STYLE", "false", "path-style bucket addressing (most self-hosted S3 servers)"},
	{"VELLUM_S3_PREFIX", "", "key prefix inside the bucket"},
	{"VELLUM_TOKEN_SECRET", "", "hex secret (≥ 64 hex digits) deriving signing-link tokens; empty: generated once and kept in the database"},
	{"VELLUM_MAIL", "smtp", "smtp (send through VELLUM_SMTP_HOST) or log (log each message and send nothing; serve and worker refuse to start without an SMTP host unless this is set)"},
	{"VELLUM_SMTP_HOST", "", "SMTP server host (required for serve, worker unless VELLUM_MAIL=log; vellum dev without it keeps mail at /dev/mail)"},
	{"VELLUM_SMTP_PORT", "587", "SMTP port"},
	{"VELLUM_SMTP_USERNAME", "", "SMTP user"},
	{"VELLUM_SMTP_PASSWORD", "", "SMTP password"},
	{"VELLUM_SMTP_FROM", "Vellum <no-reply@localhost>", "sender address"},
	{"VELLUM_SMTP_TLS", "starttls", "starttls, tls or none"},
	{"VELLUM_PKI_DIR", "", "directory of the platform PKI's PEM files (required for serve, worker; `vellum pki init` creates one)"},
	{"VELLUM_TSA_BUILTIN", "false", "serve the built-in RFC 3161 time-stamp authority at POST /tsa"},
	{"VELLUM_TSA_URLS", "", "comma-separated RFC 3161 TSA URLs used when signing, tried in order (default: PUBLIC_URL/tsa)"},
	{"VELLUM_OPS_TOKEN", "", "operator token for /ops/queues (empty: dashboard off) and, without VELLUM_METRICS_ADDR, for /metrics"},
	{"VELLUM_METRICS_ADDR", "", "separate listen address for /metrics, unauthenticated (e.g. 127.0.0.1:9090); empty: /metrics on the main port requires the ops token (off without one)"},
	{"VELLUM_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed (client IP in audit trails and per-IP limits); empty: none, the peer address counts"},
	{"VELLUM_REMSIG_DATA_SOURCES", "", "comma-separated URL prefixes RemSig's data.http may fetch documents from (none: data.http is refused); fetched through the outbound guard"},
	{"VELLUM_OIDC_PROVIDERS", "", "OpenID Connect providers signers may be required to log in with (recipient auth.method OIDC, Signicat's identityProviders): a JSON array of {name, issuer, clientId, clientSecret, scopes, nationalIdClaim}; register PUBLIC_URL/api/v1/signer/oidc/callback as the redirect URI; the issuers' hosts are reached by name through the outbound guard"},
	{"VELLUM_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"VELLUM_LOG_FORMAT", "json", "json or text"},
	{"VELLUM_WORKER_CONCURRENCY", "10", "tasks run at once per worker process"},
	{"VELLUM_SHUTDOWN_TIMEOUT", "25s", "grace period for in-flight requests and tasks on SIGTERM"},
	{"VELLUM_DRAIN_DELAY", "0s", "on SIGTERM, /readyz answers 503 (draining) and requests are still served this long before the listener closes, so a load balancer stops sending first (Kubernetes: 10s)"},
	{"VELLUM_OUTBOX_RELAY_AFTER", "10s", "hand a due task that is still unfinished to Redis again after this long (one that a dead worker took without claiming it is taken over)"},
	{"VELLUM_RATE_LIMIT_PER_MINUTE", "100", "sustained requests per minute per API key (0: no limit)"},
	{"VELLUM_RATE_LIMIT_BURST", "200", "burst size per API key"},
	{"VELLUM_IP_RATE_LIMIT_PER_MINUTE", "60", "requests per minute per client IP on public routes and failed authentication (0: no limit)"},
	{"VELLUM_IP_RATE_LIMIT_BURST", "120", "burst size per client IP"},
	{"VELLUM_MAX_UPLOAD_BYTES", "52428800", "largest document upload in bytes (default 50 MiB)"},
	{"VELLUM_WEBHOOK_ALLOW_PRIVATE", "false", "deliver webhooks to loopback, private, link-local, CGNAT and metadata addresses (vellum dev: true)"},
	{"VELLUM_WEBHOOK_ALLOW_HTTP", "false", "accept http:// webhook URLs, not only https:// (vellum dev: true)"},
	{"VELLUM_OUTBOUND_ALLOW_PRIVATE", "false", "let OCSP, CRL and caIssuers fetches named by uploaded documents' certificates reach loopback, private, link-local and metadata addresses; the TSA URLs' and the public URL's hosts are reachable without it"},
	{"VELLUM_WEBHOOK_TIMEOUT", "10s", "time limit of one webhook delivery attempt"},
	{"VELLUM_WEBHOOK_RETENTION", "720h", "keep finished webhook deliveries and their attempt logs this long"},
	{"VELLUM_FONT_PATH", "", "comma-separated TrueType fonts (.ttf, .ttc) for characters the built-in Latin/Greek/Cyrillic fonts lack, e.g. Han; right-to-left scripts are refused whatever the font"},
	{"VELLUM_KEK", "", "key-encryption key of persons' private keys: 32 bytes in base64 (`openssl rand -base64 32`); required by serve and worker (or the PKCS#11 label); vellum dev: generated in the data dir"},
	{"VELLUM_KEK_RECOVERY", "", "recovery key (32 bytes in base64, not the KEK): lets a PIN reset keep the key; required with VELLUM_KEK"},
	{"VELLUM_KEK_PKCS11_LABEL", "", "instead of VELLUM_KEK: label of an AES-256 key on the PKCS#11 token"},
	{"VELLUM_KEK_RECOVERY_PKCS11_LABEL", "", "instead of VELLUM_KEK_RECOVERY: label of another AES-256 key on the PKCS#11 token"},
	{"VELLUM_PKCS11_MODULE", "", "PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so"},
	{"VELLUM_PKCS11_TOKEN_LABEL", "", "PKCS#11 token label"},
	{"VELLUM_PKCS11_PIN", "", "PKCS#11 user PIN"},
	{"VELLUM_PKCS11_ISSUING_KEY_LABEL", "", "label of the issuing CA's key pair on the PKCS#11 token, used instead of issuing.key in VELLUM_PKI_DIR"},
	{"VELLUM_PKCS11_SEAL_KEY_LABEL", "", "label of the platform seal's key pair on the PKCS#11 token, used instead of seal.key"},
	{"VELLUM_PKCS11_TSA_KEY_LABEL", "", "label of the built-in TSA's key pair on the PKCS#11 token, used instead of tsa.key"},
	{"VELLUM_PORTAL_SESSION_LIFETIME", "12h", "certificate portal: a login lasts at most this long"},
	{"VELLUM_PORTAL_SESSION_IDLE_TIMEOUT", "30m", "certificate portal: a login ends after this long without a request"},
	{"VELLUM_DATA_DIR", "./.vellum", "vellum dev: where the SQLite file, blobs and dev PKI live"},
	{"VELLUM_DEV_API_KEY", "", "vellum dev: use this sk_test_… key instead of generating one"},
}

// MarkdownTable renders Vars as the README's configuration table, which
// scripts/configtable writes and a test holds the README to, row by row.
func MarkdownTable() string {
	var t strings.Builder
	t.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range Vars {
		def := "—"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&t, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Help, "|", "\\|"))
	}
	return t.String()
}

// Load reads the environment, applying defaults. It does not validate; call
// one of the Validate methods for the command being run.
func Load() (*Config, error) {
	get := func(name string) string {
		if v, ok := os.LookupEnv(name); ok {
			return strings.TrimSpace(v)
		}
		for _, v := range Vars {
			if v.Name == name {
				return v.Default
			}
		}
		return ""
	}
	var errs []error
	intVar := func(name string) int {
		n, err := strconv.Atoi(get(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, get(name)))
		}
		return n
	}
	boolVar := func(name string) bool {
		b, err := strconv.ParseBool(get(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", name, get(name)))
		}
		return b
	}
	durVar := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration like 30s or 2m", name, get(name)))
		}
		return d
	}
	// offOrDur is durVar where 0 means off.
	offOrDur := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration like 10s (0s: off)", name, get(name)))
		}
		return d
	}
	c := &Config{
		Addr:        get("VELLUM_ADDR"),
		PublicURL:   strings.TrimRight(get("VELLUM_PUBLIC_URL"), "/"),
		DatabaseURL: get("VELLUM_DATABASE_URL"),
		RedisURL:    get("VELLUM_REDIS_URL"),
		Blob: BlobConfig{
			Backend:           get("VELLUM_BLOB_BACKEND"),
			Dir:               get("VELLUM_BLOB_DIR"),
			S3Endpoint:        get("VELLUM_S3_ENDPOINT"),
			S3Region:          get("VELLUM_S3_REGION"),
			S3Bucket:          get("VELLUM_S3_BUCKET"),
			S3AccessKeyID:     get("VELLUM_S3_ACCESS_KEY_ID"),
			S3SecretAccessKey: get("VELLUM_S3_SECRET_ACCESS_KEY"),
			S3PathStyle:       boolVar("VELLUM_S3_PATH_STYLE"),
			S3Prefix:          get("VELLUM_S3_PREFIX"),
		},
		TokenSecret: get("VELLUM_TOKEN_SECRET"),
		Mail:        get("VELLUM_MAIL"),
		SMTP: SMTPConfig{
			Host:     get("VELLUM_SMTP_HOST"),
			Port:     intVar("VELLUM_SMTP_PORT"),
			Username: get("VELLUM_SMTP_USERNAME"),
			Password: get("VELLUM_SMTP_PASSWORD"),
			From:     get("VELLUM_SMTP_FROM"),
			TLS:      get("VELLUM_SMTP_TLS"),
		},
		PKI: PKIConfig{
			Dir:        get("VELLUM_PKI_DIR"),
			TSABuiltin: boolVar("VELLUM_TSA_BUILTIN"),
			TSAURLs:    splitList(get("VELLUM_TSA_URLS")),

			IssuingKeyLabel: get("VELLUM_PKCS11_ISSUING_KEY_LABEL"),
			SealKeyLabel:    get("VELLUM_PKCS11_SEAL_KEY_LABEL"),
			TSAKeyLabel:     get("VELLUM_PKCS11_TSA_KEY_LABEL"),
		},
		OpsToken:             get("VELLUM_OPS_TOKEN"),
		MetricsAddr:          get("VELLUM_METRICS_ADDR"),
		LogLevel:             get("VELLUM_LOG_LEVEL"),
		LogFormat:            get("VELLUM_LOG_FORMAT"),
		WorkerConcurrency:    intVar("VELLUM_WORKER_CONCURRENCY"),
		ShutdownTimeout:      durVar("VELLUM_SHUTDOWN_TIMEOUT"),
		DrainDelay:           offOrDur("VELLUM_DRAIN_DELAY"),
		RelayAfter:           durVar("VELLUM_OUTBOX_RELAY_AFTER"),
		RateLimitPerMinute:   intVar("VELLUM_RATE_LIMIT_PER_MINUTE"),
		RateLimitBurst:       intVar("VELLUM_RATE_LIMIT_BURST"),
		IPRateLimitPerMinute: intVar("VELLUM_IP_RATE_LIMIT_PER_MINUTE"),
		IPRateLimitBurst:     intVar("VELLUM_IP_RATE_LIMIT_BURST"),
		MaxUploadBytes:       int64(intVar("VELLUM_MAX_UPLOAD_BYTES")),
		FontPaths:            splitList(get("VELLUM_FONT_PATH")),
		RemSigDataSources:    splitList(get("VELLUM_REMSIG_DATA_SOURCES")),
		DataDir:              get("VELLUM_DATA_DIR"),
		DevAPIKey:            get("VELLUM_DEV_API_KEY"),
		KEK: KEKConfig{
			Key: get("VELLUM_KEK"), Recovery: get("VELLUM_KEK_RECOVERY"),
			KeyLabel: get("VELLUM_KEK_PKCS11_LABEL"), RecoveryLabel: get("VELLUM_KEK_RECOVERY_PKCS11_LABEL"),
		},
		PKCS11: PKCS11Config{
			Module: get("VELLUM_PKCS11_MODULE"), TokenLabel: get("VELLUM_PKCS11_TOKEN_LABEL"), PIN: get("VELLUM_PKCS11_PIN"),
		},
		Portal: PortalConfig{
			SessionLifetime:    durVar("VELLUM_PORTAL_SESSION_LIFETIME"),
			SessionIdleTimeout: durVar("VELLUM_PORTAL_SESSION_IDLE_TIMEOUT"),
		},
		OutboundAllowPrivate: boolVar("VELLUM_OUTBOUND_ALLOW_PRIVATE"),
		Webhook: WebhookConfig{
			AllowPrivate: boolVar("VELLUM_WEBHOOK_ALLOW_PRIVATE"),
			AllowHTTP:    boolVar("VELLUM_WEBHOOK_ALLOW_HTTP"),
			Timeout:      durVar("VELLUM_WEBHOOK_TIMEOUT"),
			Retention:    durVar("VELLUM_WEBHOOK_RETENTION"),
		},
	}
	if raw := get("VELLUM_OIDC_PROVIDERS"); raw != "" {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c.OIDCProviders); err != nil {
			errs = append(errs, fmt.Errorf("VELLUM_OIDC_PROVIDERS: not a JSON array of {name, issuer, clientId, clientSecret, scopes, nationalIdClaim}: %v", err))
		}
	}
	for _, p := range splitList(get("VELLUM_TRUSTED_PROXIES")) {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("VELLUM_TRUSTED_PROXIES: %q is not an IP address or CIDR", p))
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
	}
	return c, errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// TSAs returns the time-stamp authorities to use when signing.
func (c *Config) TSAs() []string {
	if len(c.PKI.TSAURLs) > 0 {
		return c.PKI.TSAURLs
	}
	return []string{c.PublicURL + "/tsa"}
}

// ValidateCommon checks what every server command needs.
func (c *Config) ValidateCommon() error {
	var errs []error
	for _, u := range c.PKI.TSAURLs {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("VELLUM_TSA_URLS: %q is not an absolute http(s) URL", u))
		}
	}
	for _, u := range c.RemSigDataSources {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil {
			errs = append(errs, fmt.Errorf("VELLUM_REMSIG_DATA_SOURCES: %q is not an absolute http(s) URL without credentials", u))
		}
	}
	errs = append(errs, c.validateOIDCProviders()...)
	if c.Addr == "" {
		errs = append(errs, errors.New("VELLUM_ADDR: must not be empty"))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("VELLUM_PUBLIC_URL: %q is not an absolute http(s) URL", c.PublicURL))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("VELLUM_LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("VELLUM_LOG_FORMAT: %q is not json or text", c.LogFormat))
	}
	if c.WorkerConcurrency < 1 || c.WorkerConcurrency > 1000 {
		errs = append(errs, fmt.Errorf("VELLUM_WORKER_CONCURRENCY: %d is not between 1 and 1000", c.WorkerConcurrency))
	}
	for _, v := range []struct {
		name string
		n    int
	}{
		{"VELLUM_RATE_LIMIT_PER_MINUTE", c.RateLimitPerMinute}, {"VELLUM_RATE_LIMIT_BURST", c.RateLimitBurst},
		{"VELLUM_IP_RATE_LIMIT_PER_MINUTE", c.IPRateLimitPerMinute}, {"VELLUM_IP_RATE_LIMIT_BURST", c.IPRateLimitBurst},
	} {
		if v.n < 0 {
			errs = append(errs, fmt.Errorf("%s: %d must not be negative", v.name, v.n))
		}
	}
	if c.Webhook.Timeout > time.Minute {
		errs = append(errs, fmt.Errorf("VELLUM_WEBHOOK_TIMEOUT: %s is over the maximum of 1m", c.Webhook.Timeout))
	}
	if c.MaxUploadBytes < 1024 {
		errs = append(errs, fmt.Errorf("VELLUM_MAX_UPLOAD_BYTES: %d is below the minimum of 1024", c.MaxUploadBytes))
	}
	if c.OpsToken != "" && len(c.OpsToken) < 16 {
		errs = append(errs, errors.New("VELLUM_OPS_TOKEN: must be at least 16 characters"))
	}
	switch c.Mail {
	case "smtp", "log":
	default:
		errs = append(errs, fmt.Errorf("VELLUM_MAIL: %q is not smtp or log", c.Mail))
	}
	switch c.SMTP.TLS {
	case "starttls", "tls", "none":
	default:
		errs = append(errs, fmt.Errorf("VELLUM_SMTP_TLS: %q is not starttls, tls or none", c.SMTP.TLS))
	}
	if err := c.KEK.Validate(); err != nil {
		errs = append(errs, err)
	}
	if (c.KEK.KeyLabel != "" || c.KEK.RecoveryLabel != "") && !c.PKCS11.Configured() {
		errs = append(errs, errors.New("VELLUM_PKCS11_MODULE and VELLUM_PKCS11_TOKEN_LABEL: required for the PKCS#11 key-encryption keys"))
	}
	if c.Portal.SessionIdleTimeout > c.Portal.SessionLifetime {
		errs = append(errs, errors.New("VELLUM_PORTAL_SESSION_IDLE_TIMEOUT: must not be longer than VELLUM_PORTAL_SESSION_LIFETIME"))
	}
	return errors.Join(errs...)
}

func (c *Config) validateOIDCProviders() []error {
	var errs []error
	seen := map[string]bool{}
	for i, p := range c.OIDCProviders {
		at := fmt.Sprintf("VELLUM_OIDC_PROVIDERS[%d]", i)
		switch {
		case !oidcProviderName.MatchString(p.Name):
			errs = append(errs, fmt.Errorf("%s.name: %q must be 1 to 63 of a-z, 0-9, '.', '_', '-'", at, p.Name))
		case p.Name == "none" || p.Name == "email-otp":
			errs = append(errs, fmt.Errorf("%s.name: %q is reserved for Vellum's own signer authentication", at, p.Name))
		case seen[p.Name]:
			errs = append(errs, fmt.Errorf("%s.name: %q is configured twice", at, p.Name))
		}
		seen[p.Name] = true
		if u, err := url.Parse(p.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%s.issuer: %q is not an absolute http(s) URL without credentials, query or fragment", at, p.Issuer))
		}
		if p.ClientID == "" {
			errs = append(errs, fmt.Errorf("%s.clientId: required", at))
		}
	}
	return errs
}

// Validate checks the key-encryption keys without ever printing them.
func (k KEKConfig) Validate() error {
	var errs []error
	isKey := func(s string) bool {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return len(b) == 32
			}
		}
		return false
	}
	for _, v := range []struct{ name, value, labelName, label string }{
		{"VELLUM_KEK", k.Key, "VELLUM_KEK_PKCS11_LABEL", k.KeyLabel},
		{"VELLUM_KEK_RECOVERY", k.Recovery, "VELLUM_KEK_RECOVERY_PKCS11_LABEL", k.RecoveryLabel},
	} {
		switch {
		case v.value != "" && v.label != "":
			errs = append(errs, fmt.Errorf("%s and %s: set one, not both", v.name, v.labelName))
		case v.value != "" && !isKey(v.value):
			errs = append(errs, fmt.Errorf("%s: must be 32 random bytes in base64 (generate one with `openssl rand -base64 32`)", v.name))
		case k.Configured() && v.value == "" && v.label == "":
			errs = append(errs, fmt.Errorf("%s (or %s): required with the other key-encryption key, so that a PIN reset keeps the key", v.name, v.labelName))
		}
	}
	if k.Key != "" && k.Key == k.Recovery {
		errs = append(errs, errors.New("VELLUM_KEK_RECOVERY: must be another key than VELLUM_KEK"))
	}
	if k.KeyLabel != "" && k.KeyLabel == k.RecoveryLabel {
		errs = append(errs, errors.New("VELLUM_KEK_RECOVERY_PKCS11_LABEL: must name another key than VELLUM_KEK_PKCS11_LABEL"))
	}
	return errors.Join(errs...)
}

// ValidateDatabase checks the database URL (migrate and every server).
func (c *Config) ValidateDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("VELLUM_DATABASE_URL: required (postgres://user:pass@host:5432/db?sslmode=disable)")
	}
	if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") &&
		!strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		return errors.New("VELLUM_DATABASE_URL: must start with postgres://, postgresql:// or sqlite://")
	}
	return nil
}

// ValidateServer checks what `serve` and `worker` need beyond the common part.
func (c *Config) ValidateServer() error {
	errs := []error{c.ValidateCommon(), c.ValidateDatabase()}
	if c.RedisURL == "" {
		errs = append(errs, errors.New("VELLUM_REDIS_URL: required (redis://host:6379/0)"))
	}
	switch {
	case c.Mail == "smtp" && c.SMTP.Host == "":
		errs = append(errs, errors.New("VELLUM_SMTP_HOST: required; set VELLUM_MAIL=log to run without sending e-mail (messages are only logged, signing links included)"))
	case c.Mail == "log" && c.SMTP.Host != "":
		errs = append(errs, errors.New("VELLUM_MAIL: log with VELLUM_SMTP_HOST set; unset one of them"))
	}
	if (c.PKI.IssuingKeyLabel != "" || c.PKI.SealKeyLabel != "" || c.PKI.TSAKeyLabel != "") && !c.PKCS11.Configured() {
		errs = append(errs, errors.New("VELLUM_PKCS11_MODULE and VELLUM_PKCS11_TOKEN_LABEL: required for the platform keys on the PKCS#11 token"))
	}
	if c.PKI.Dir == "" {
		errs = append(errs, errors.New("VELLUM_PKI_DIR: required (create one with `vellum pki init --dir DIR`)"))
	}
	if !c.KEK.Configured() {
		// Required even before the first private key is stored: a
		// deployment without one would accept persons whose certificates it
		// cannot hold, and RemSig signing needs it on every request.
		errs = append(errs, errors.New("VELLUM_KEK and VELLUM_KEK_RECOVERY (or VELLUM_KEK_PKCS11_LABEL and VELLUM_KEK_RECOVERY_PKCS11_LABEL): required; generate each with `openssl rand -base64 32`"))
	}
	switch c.Blob.Backend {
	case "s3":
		if c.Blob.S3Bucket == "" {
			errs = append(errs, errors.New("VELLUM_S3_BUCKET: required when VELLUM_BLOB_BACKEND=s3"))
		}
		if c.Blob.S3Endpoint != "" {
			if u, err := url.Parse(c.Blob.S3Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
				errs = append(errs, fmt.Errorf("VELLUM_S3_ENDPOINT: %q is not an absolute URL", c.Blob.S3Endpoint))
			}
		}
		if (c.Blob.S3AccessKeyID == "") != (c.Blob.S3SecretAccessKey == "") {
			errs = append(errs, errors.New("VELLUM_S3_ACCESS_KEY_ID and VELLUM_S3_SECRET_ACCESS_KEY: set both or neither"))
		}
	case "fs":
		if c.Blob.Dir == "" {
			errs = append(errs, errors.New("VELLUM_BLOB_DIR: required when VELLUM_BLOB_BACKEND=fs"))
		}
	default:
		errs = append(errs, fmt.Errorf("VELLUM_BLOB_BACKEND: %q is not s3 or fs", c.Blob.Backend))
	}
	return errors.Join(errs...)
}

// ValidateDev checks what `vellum dev` needs.
func (c *Config) ValidateDev() error {
	errs := []error{c.ValidateCommon()}
	if c.DataDir == "" {
		errs = append(errs, errors.New("VELLUM_DATA_DIR / --data-dir: must not be empty"))
	}
	if c.DevAPIKey != "" && (!strings.HasPrefix(c.DevAPIKey, "sk_test_") || len(c.DevAPIKey) < len("sk_test_")+16) {
		errs = append(errs, errors.New("VELLUM_DEV_API_KEY: must be sk_test_ followed by at least 16 characters"))
	}
	return errors.Join(errs...)
}
