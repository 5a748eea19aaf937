package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/config"
)

func TestLoad_DefaultsApplyWhenUnset(t *testing.T) {
	for _, v := range config.Vars {
		unset(t, v.Name)
	}
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.ShutdownTimeout != 25*time.Second || c.WorkerConcurrency != 10 || c.Blob.Backend != "s3" || c.LogFormat != "json" {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if err := c.ValidateCommon(); err != nil {
		t.Fatalf("defaults fail validation: %v", err)
	}
}

func TestValidateServer_NamesEveryBadVariable(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"missing required", nil, []string{"VELLUM_DATABASE_URL", "VELLUM_REDIS_URL", "VELLUM_S3_BUCKET", "VELLUM_PKI_DIR", "VELLUM_SMTP_HOST", "VELLUM_MAIL=log", "VELLUM_KEK"}},
		{"mail logged and sent", map[string]string{"VELLUM_MAIL": "log", "VELLUM_SMTP_HOST": "smtp.example.com"}, []string{"VELLUM_MAIL"}},
		{"unknown mail mode", map[string]string{"VELLUM_MAIL": "LOG"}, []string{"VELLUM_MAIL"}},
		{"platform key on a token without the token", map[string]string{"VELLUM_PKCS11_SEAL_KEY_LABEL": "seal"}, []string{"VELLUM_PKCS11_MODULE"}},
		{"bad values", map[string]string{
			"VELLUM_DATABASE_URL": "mysql://x", "VELLUM_REDIS_URL": "redis://x", "VELLUM_BLOB_BACKEND": "fs",
			"VELLUM_LOG_LEVEL": "loud", "VELLUM_PUBLIC_URL": "ftp://x", "VELLUM_OPS_TOKEN": "short",
		}, []string{"VELLUM_DATABASE_URL", "VELLUM_BLOB_DIR", "VELLUM_LOG_LEVEL", "VELLUM_PUBLIC_URL", "VELLUM_OPS_TOKEN"}},
		{"half the S3 credentials", map[string]string{
			"VELLUM_DATABASE_URL": "postgres://x/y", "VELLUM_REDIS_URL": "redis://x", "VELLUM_S3_BUCKET": "b",
			"VELLUM_S3_ACCESS_KEY_ID": "AK",
		}, []string{"VELLUM_S3_SECRET_ACCESS_KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range config.Vars {
				unset(t, v.Name)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			err = c.ValidateServer()
			if err == nil {
				t.Fatal("invalid configuration accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %s: %v", w, err)
				}
			}
		})
	}
}

func TestLoad_RejectsMalformedNumbersDurationsAndBooleans(t *testing.T) {
	for name, value := range map[string]string{
		"VELLUM_WORKER_CONCURRENCY": "many", "VELLUM_SHUTDOWN_TIMEOUT": "-3s", "VELLUM_S3_PATH_STYLE": "perhaps",
	} {
		t.Run(name, func(t *testing.T) {
			for _, v := range config.Vars {
				unset(t, v.Name)
			}
			t.Setenv(name, value)
			if _, err := config.Load(); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("Load with %s=%q: %v", name, value, err)
			}
		})
	}
}

func TestValidateServer_AcceptsACompleteConfiguration(t *testing.T) {
	for _, v := range config.Vars {
		unset(t, v.Name)
	}
	for k, v := range map[string]string{
		"VELLUM_DATABASE_URL": "postgres://u:p@db:5432/vellum", "VELLUM_REDIS_URL": "redis://redis:6379/0",
		"VELLUM_S3_BUCKET": "docs", "VELLUM_S3_ENDPOINT": "http://s3:7070", "VELLUM_S3_PATH_STYLE": "true",
		"VELLUM_PKI_DIR": "/etc/vellum/pki", "VELLUM_SMTP_HOST": "smtp.example.com",
		"VELLUM_KEK": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=", "VELLUM_KEK_RECOVERY": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
	} {
		t.Setenv(k, v)
	}
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateServer(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateServer_AcceptsMailLogOnlyWhenAskedFor(t *testing.T) {
	for _, v := range config.Vars {
		unset(t, v.Name)
	}
	for k, v := range map[string]string{
		"VELLUM_DATABASE_URL": "postgres://u:p@db:5432/vellum", "VELLUM_REDIS_URL": "redis://redis:6379/0",
		"VELLUM_BLOB_BACKEND": "fs", "VELLUM_BLOB_DIR": "/var/lib/vellum", "VELLUM_PKI_DIR": "/etc/vellum/pki",
		"VELLUM_MAIL": "log", "VELLUM_KEK": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=",
		"VELLUM_KEK_RECOVERY": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
	} {
		t.Setenv(k, v)
	}
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateServer(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate_OIDCProviders(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"not JSON", `{`, "VELLUM_OIDC_PROVIDERS: not a JSON array"},
		{"unknown member", `[{"name":"a","issuer":"https://i.example","clientId":"c","secret":"s"}]`, `unknown field "secret"`},
		{"bad name", `[{"name":"Bank ID","issuer":"https://i.example","clientId":"c"}]`, "VELLUM_OIDC_PROVIDERS[0].name"},
		{"reserved name", `[{"name":"email-otp","issuer":"https://i.example","clientId":"c"}]`, "reserved"},
		{"twice", `[{"name":"a","issuer":"https://i.example","clientId":"c"},{"name":"a","issuer":"https://j.example","clientId":"c"}]`, "VELLUM_OIDC_PROVIDERS[1].name: \"a\" is configured twice"},
		{"relative issuer", `[{"name":"a","issuer":"/idp","clientId":"c"}]`, "VELLUM_OIDC_PROVIDERS[0].issuer"},
		{"no client", `[{"name":"a","issuer":"https://i.example"}]`, "VELLUM_OIDC_PROVIDERS[0].clientId: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VELLUM_OIDC_PROVIDERS", tc.value)
			c, err := config.Load()
			if err == nil {
				err = c.ValidateCommon()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("VELLUM_OIDC_PROVIDERS=%s: %v, want an error containing %q", tc.value, err, tc.want)
			}
		})
	}
	t.Setenv("VELLUM_OIDC_PROVIDERS", `[{"name":"bankid","issuer":"https://i.example/oidc","clientId":"c","clientSecret":"s","scopes":["profile"],"nationalIdClaim":"nin"}]`)
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateCommon(); err != nil {
		t.Fatal(err)
	}
	if p := c.OIDCProviders; len(p) != 1 || p[0].Name != "bankid" || p[0].NationalIDClaim != "nin" || p[0].ClientSecret != "s" {
		t.Errorf("providers %+v", p)
	}
}
