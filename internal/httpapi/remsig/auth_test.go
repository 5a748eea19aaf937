package remsig_test

import (
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/account"
)

func TestAuth_BasicWithKeyIDAndSecretOrSecretAlone(t *testing.T) {
	tn := newTenant(t)
	for _, tc := range []struct {
		name       string
		user, pass string
		want       int
	}{
		{"id and secret", tn.key.ID, tn.secret, http.StatusOK},
		{"secret and empty password", tn.secret, "", http.StatusOK},
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong secret", tn.key.ID, "sk_test_wrongwrongwrongwrongwrong12", http.StatusUnauthorized},
		{"another key's id", "key_00000000000000000000000000000000", tn.secret, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, http.MethodGet, "/api/certificate/", tc.user, tc.pass, "")
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
			}
			if tc.want == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") != `Basic realm="vellum"` {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestAuth_RolesAreEnforced(t *testing.T) {
	tn := newTenant(t)
	id, secret := tn.keyWith(t, account.RoleSigner)
	if r := call(t, http.MethodGet, "/api/certificate/", id, secret, ""); r.status != http.StatusForbidden || r.body["code"] != "role_required" {
		t.Fatalf("a SIGNER key listing certificates (USER): %d %s", r.status, r.raw)
	}
	id, secret = tn.keyWith(t, account.RoleUser)
	if r := call(t, http.MethodGet, "/api/certificate/", id, secret, ""); r.status != http.StatusOK {
		t.Fatalf("a USER key listing certificates: %d %s", r.status, r.raw)
	}

	// Roles through the native API, shown back; a MANAGER-only key then
	// cannot list certificates.
	req, _ := http.NewRequest(http.MethodPost, env.server.URL+"/api/v1/keys", strings.NewReader(`{"name":"mgr","roles":["MANAGER"]}`))
	req.Header.Set("Authorization", "Bearer "+tn.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		ID     string   `json:"id"`
		Secret string   `json:"secret"`
		Roles  []string `json:"roles"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated ||
		len(created.Roles) != 1 || created.Roles[0] != "MANAGER" {
		t.Fatalf("create key with roles: %d %+v %v", resp.StatusCode, created, err)
	}
	if r := call(t, http.MethodGet, "/api/certificate/", created.ID, created.Secret, ""); r.status != http.StatusForbidden {
		t.Fatalf("MANAGER key listing certificates: %d %s", r.status, r.raw)
	}
	req, _ = http.NewRequest(http.MethodPost, env.server.URL+"/api/v1/keys", strings.NewReader(`{"roles":["ADMIN"]}`))
	req.Header.Set("Authorization", "Bearer "+tn.secret)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown role: %v %v", resp, err)
	}
}

func TestCertificates_ListPagesAndFilters(t *testing.T) {
	tn := newTenant(t)
	p1, c1 := tn.person(t, "pin-123456")
	_, c2 := tn.person(t, "pin-123456")
	r := call(t, http.MethodGet, "/api/certificate/?size=1&sort=id,DESC", tn.secret, "", "")
	if r.status != http.StatusOK || r.body["totalElements"] != 2.0 || r.body["totalPages"] != 2.0 || r.body["size"] != 1.0 || r.body["page"] != 0.0 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	certs := r.body["certificates"].([]any)
	if len(certs) != 1 || certs[0].(map[string]any)["id"] != float64(c2.Number) {
		t.Fatalf("first of size 1 sorted by id DESC: %s", r.raw)
	}
	serial, _ := new(big.Int).SetString(c1.SerialNumber, 16)
	r = call(t, http.MethodGet, "/api/certificate/?serialNumber="+serial.String(), tn.secret, "", "")
	certs = r.body["certificates"].([]any)
	if r.status != http.StatusOK || len(certs) != 1 {
		t.Fatalf("by serial: %d %s", r.status, r.raw)
	}
	got := certs[0].(map[string]any)
	person := got["person"].(map[string]any)
	if got["type"] != "PERSONAL" || got["index"] != 0.0 || got["personId"] != float64(p1.Number) || person["uniqueId"] != p1.UniqueID ||
		got["encoded"] == "" || got["disabled"] != false {
		t.Fatalf("certificate: %s", r.raw)
	}
	for _, bad := range []string{"?page=-1", "?size=0", "?sort=secret", "?serialNumber=abc"} {
		if r := call(t, http.MethodGet, "/api/certificate/"+bad, tn.secret, "", ""); r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", bad, r.status, r.raw)
		}
	}
	// Another account sees none of them.
	other := newTenant(t)
	if r := call(t, http.MethodGet, "/api/certificate/", other.secret, "", ""); r.body["totalElements"] != 0.0 {
		t.Fatalf("another account: %s", r.raw)
	}

	r = call(t, http.MethodGet, "/api/certificate/latest-valid?uniqueId="+p1.UniqueID, tn.secret, "", "")
	if r.status != http.StatusOK || r.body["certificate"].(map[string]any)["id"] != float64(c1.Number) {
		t.Fatalf("latest-valid: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodGet, "/api/certificate/latest-valid?id="+big.NewInt(p1.Number).String(), tn.secret, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("latest-valid by id: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodGet, "/api/certificate/latest-valid?uniqueId=nobody", tn.secret, "", ""); r.status != http.StatusNotFound {
		t.Fatalf("latest-valid of nobody: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodGet, "/api/certificate/latest-valid?uniqueId="+p1.UniqueID, other.secret, "", ""); r.status != http.StatusNotFound {
		t.Fatalf("latest-valid of another account's person: %d %s", r.status, r.raw)
	}
}
