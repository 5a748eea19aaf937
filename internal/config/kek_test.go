package config_test

import (
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/config"
)

func TestValidateCommon_KeyEncryptionKeys(t *testing.T) {
	const key1 = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M="
	const key2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // variables the error names; none: valid
	}{
		{"none", nil, nil},
		{"both keys", map[string]string{"VELLUM_KEK": key1, "VELLUM_KEK_RECOVERY": key2}, nil},
		{"KEK without recovery", map[string]string{"VELLUM_KEK": key1}, []string{"VELLUM_KEK_RECOVERY"}},
		{"malformed", map[string]string{"VELLUM_KEK": "c2hvcnQ=", "VELLUM_KEK_RECOVERY": key2}, []string{"VELLUM_KEK:"}},
		{"the same key twice", map[string]string{"VELLUM_KEK": key1, "VELLUM_KEK_RECOVERY": key1}, []string{"VELLUM_KEK_RECOVERY"}},
		{"key and label", map[string]string{"VELLUM_KEK": key1, "VELLUM_KEK_PKCS11_LABEL": "kek", "VELLUM_KEK_RECOVERY": key2,
			"VELLUM_PKCS11_MODULE": "/x.so", "VELLUM_PKCS11_TOKEN_LABEL": "t"}, []string{"VELLUM_KEK_PKCS11_LABEL"}},
		{"labels without a token", map[string]string{"VELLUM_KEK_PKCS11_LABEL": "kek", "VELLUM_KEK_RECOVERY_PKCS11_LABEL": "rec"},
			[]string{"VELLUM_PKCS11_MODULE"}},
		{"token keys", map[string]string{"VELLUM_KEK_PKCS11_LABEL": "kek", "VELLUM_KEK_RECOVERY_PKCS11_LABEL": "rec",
			"VELLUM_PKCS11_MODULE": "/x.so", "VELLUM_PKCS11_TOKEN_LABEL": "t"}, nil},
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
			err = c.ValidateCommon()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid configuration refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid configuration accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %s: %v", w, err)
				}
			}
			for _, secret := range []string{key1, key2, "c2hvcnQ="} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error prints a key: %v", err)
				}
			}
		})
	}
}
