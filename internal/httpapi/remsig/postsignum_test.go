package remsig_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/person"
)

const psBase = "/api/manage/certificate/postsignum/request/"

// psBody is a valid create request for uniqueID with fields replaced by
// extra (raw JSON members, which come last and win).
func psBody(uniqueID, extra string) string {
	b := `{"personUniqueId":"` + uniqueID + `","degreeBefore":"RNDr.","firstName":"Anna","lastName":"White",
		"birthCertificateNumber":"8551011234","gender":"FEMALE","insertMPSV":false,"emails":["anna@mail.localhost"],
		"country":"CZ","organizationUnitId":5,"redirects":{"success":"https://localhost/after?result=success"}`
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

func invalidNames(r response) []string {
	var out []string
	list, _ := r.body["invalidParams"].([]any)
	for _, p := range list {
		if m, ok := p.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["name"]))
		}
	}
	return out
}

func TestPostSignum_ValidationIs400WithTheField(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-12345")
	for _, tc := range []struct {
		name, extra, field string
	}{
		{"birth number with letters", `"birthCertificateNumber":"85510A1234"`, "birthCertificateNumber"},
		{"birth date with slashes", `"birthCertificateNumber":"01/02/1985"`, "birthCertificateNumber"},
		{"birth number missing", `"birthCertificateNumber":""`, "birthCertificateNumber"},
		{"gender unknown", `"gender":"other"`, "gender"},
		{"gender missing outside CZ", `"gender":null,"country":"GB"`, "gender"},
		{"country not alpha-2", `"country":"CZE"`, "country"},
		{"no emails", `"emails":[]`, "emails"},
		{"bad email", `"emails":["not an address"]`, "emails[0]"},
		{"first name missing", `"firstName":""`, "firstName"},
		{"bad redirect", `"redirects":{"error":"javascript:alert(1)"}`, "redirects.error"},
		{"bad external certificate", `"externalCertificate":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"`, "externalCertificate"},
		{"organization unit zero", `"organizationUnitId":0`, "organizationUnitId"},
		{"subsequent without certificate", `"subsequentRequest":true`, "subsequentRequest"},
		{"wrong JSON type", `"birthCertificateNumber":8551011234`, "birthCertificateNumber"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, http.MethodPost, psBase+"create", tn.secret, "", psBody(p.UniqueID, tc.extra))
			if r.status != http.StatusBadRequest {
				t.Fatalf("want 400, got %d %s", r.status, r.raw)
			}
			if names := invalidNames(r); !strings.Contains(strings.Join(names, " "), tc.field) {
				t.Fatalf("invalidParams %v lack %s: %s", names, tc.field, r.raw)
			}
		})
	}
	// Nothing was filed.
	if r := call(t, http.MethodGet, psBase, tn.secret, "", ""); r.status != http.StatusOK || r.body["totalElements"] != float64(0) {
		t.Fatalf("list after refusals: %d %s", r.status, r.raw)
	}
	// The accepted spellings.
	for _, extra := range []string{`"gender":"m"`, `"gender":"female","country":"gb"`, `"birthCertificateNumber":"01.02.1985"`} {
		if r := call(t, http.MethodPost, psBase+"create", tn.secret, "", psBody(p.UniqueID, extra)); r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", extra, r.status, r.raw)
		}
	}
	if r := call(t, http.MethodPost, psBase+"create", tn.secret, "", psBody("nobody@uni.localhost", "")); r.status != http.StatusNotFound {
		t.Fatalf("unknown person: %d %s", r.status, r.raw)
	}
}

func psCreate(t *testing.T, tn *tenant, uniqueID string) (int64, map[string]any) {
	t.Helper()
	r := call(t, http.MethodPost, psBase+"create", tn.secret, "", psBody(uniqueID, ""))
	if r.status != http.StatusOK {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	req := r.body["request"].(map[string]any)
	if req["state"] != "PROCESSING" || req["approved"] != false || req["gender"] != "FEMALE" || req["certificateRequest"] != nil {
		t.Fatalf("a new request: %s", r.raw)
	}
	return int64(req["id"].(float64)), req
}

func TestPostSignum_ApproveImportsTheCertificate(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-12345")
	id, req := psCreate(t, tn, p.UniqueID)
	path := fmt.Sprintf("%s%d", psBase, id)
	if r := call(t, http.MethodGet, path, tn.secret, "", ""); r.status != http.StatusOK || r.body["request"].(map[string]any)["uuid"] != req["uuid"] {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	r := call(t, http.MethodPost, path+"/approve", tn.secret, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	got := r.body["request"].(map[string]any)
	cr, _ := got["certificateRequest"].(map[string]any)
	cert, _ := got["certificate"].(map[string]any)
	if got["state"] != "IMPORTED" || got["approved"] != true || got["approvedDate"] == nil || cr == nil || cert == nil ||
		cr["importedCertificateId"] != cert["id"] || got["postSignumRequestId"] == nil || cr["subjectKey"] == nil ||
		!strings.HasPrefix(fmt.Sprint(cr["request"]), "-----BEGIN CERTIFICATE REQUEST-----") {
		t.Fatalf("approved: %s", r.raw)
	}
	// The certificate is the person's, with a key sealed under a password
	// the person sets through the one-time link.
	certs, err := env.persons.ListAccountCertificates(context.Background(), tn.scope, listing.Query{Limit: 100}, person.CertificateFilter{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range certs.Items {
		if float64(c.Number) == cert["id"] && c.PersonID == p.ID && c.HasKey() {
			found = true
		}
	}
	if !found {
		t.Fatalf("certificate %v is not the person's", cert["id"])
	}
	u, err := url.Parse(fmt.Sprint(got["redirectUrl"]))
	if err != nil || u.Query().Get("uuid") != got["uuid"] {
		t.Fatalf("redirectUrl %v", got["redirectUrl"])
	}
	reset, c, err := env.persons.GetPINReset(context.Background(), u.Query().Get("uuid"))
	if err != nil || float64(c.Number) != cert["id"] || reset.RedirectSuccess != "https://localhost/after?result=success" {
		t.Fatalf("the reset link: %v %+v", err, reset)
	}
	if r := call(t, http.MethodGet, path+"/state", tn.secret, "", ""); r.status != http.StatusOK || r.body["state"] != "IMPORTED" {
		t.Fatalf("state: %d %s", r.status, r.raw)
	}
	// Decided once; an approved request stays.
	for _, op := range []struct{ method, path string }{{http.MethodPost, path + "/approve"}, {http.MethodPost, path + "/deny"},
		{http.MethodDelete, path}} {
		if r := call(t, op.method, op.path, tn.secret, "", ""); r.status != http.StatusConflict {
			t.Fatalf("%s %s after approval: %d %s", op.method, op.path, r.status, r.raw)
		}
	}
}

func TestPostSignum_DenyPatchDelete(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-12345")
	id, _ := psCreate(t, tn, p.UniqueID)
	path := fmt.Sprintf("%s%d", psBase, id)
	if r := call(t, http.MethodPatch, path, tn.secret, "", `{"postSignumRequestMessageSigned":"not base64!"}`); r.status != http.StatusBadRequest ||
		!strings.Contains(strings.Join(invalidNames(r), " "), "postSignumRequestMessageSigned") {
		t.Fatalf("patch with bad base64: %d %s", r.status, r.raw)
	}
	r := call(t, http.MethodPatch, path, tn.secret, "", `{"postSignumRequestMessageSigned":"c29tZSBsb25nZGF0YSBoZXJl"}`)
	if r.status != http.StatusOK || r.body["request"].(map[string]any)["postSignumRequestMessageSigned"] != "c29tZSBsb25nZGF0YSBoZXJl" {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodPost, path+"/deny", tn.secret, "", "")
	got := r.body["request"].(map[string]any)
	if r.status != http.StatusOK || got["denied"] != true || got["deniedDate"] == nil || got["approved"] != false || got["certificate"] != nil {
		t.Fatalf("deny: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodPost, path+"/approve", tn.secret, "", ""); r.status != http.StatusConflict {
		t.Fatalf("approve after denial: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodDelete, path, tn.secret, "", ""); r.status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	for _, p := range []string{path, path + "/state"} {
		if r := call(t, http.MethodGet, p, tn.secret, "", ""); r.status != http.StatusNotFound {
			t.Fatalf("GET %s after delete: %d %s", p, r.status, r.raw)
		}
	}
}

func TestPostSignum_ScopeAndRole(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-12345")
	id, _ := psCreate(t, tn, p.UniqueID)
	path := fmt.Sprintf("%s%d", psBase, id)
	other := newTenant(t)
	for _, op := range []struct{ method, path, body string }{{http.MethodGet, path, ""}, {http.MethodGet, path + "/state", ""},
		{http.MethodPost, path + "/approve", ""}, {http.MethodPost, path + "/deny", ""},
		{http.MethodPatch, path, `{"postSignumRequestMessageSigned":"AAAA"}`}, {http.MethodDelete, path, ""}} {
		if r := call(t, op.method, op.path, other.secret, "", op.body); r.status != http.StatusNotFound {
			t.Fatalf("another account's %s %s: %d %s", op.method, op.path, r.status, r.raw)
		}
	}
	if r := call(t, http.MethodGet, psBase, other.secret, "", ""); r.status != http.StatusOK || r.body["totalElements"] != float64(0) {
		t.Fatalf("another account's list: %d %s", r.status, r.raw)
	}
	// Roles as the seed gives them: USER for all but PATCH, which needs MANAGER.
	kid, secret := tn.keyWith(t, account.RoleSigner)
	for _, op := range []struct{ method, path, body string }{{http.MethodPost, psBase + "create", psBody(p.UniqueID, "")},
		{http.MethodGet, psBase, ""}, {http.MethodGet, path, ""}, {http.MethodGet, path + "/state", ""},
		{http.MethodPost, path + "/approve", ""}, {http.MethodPost, path + "/deny", ""}, {http.MethodDelete, path, ""}} {
		if r := call(t, op.method, op.path, kid, secret, op.body); r.status != http.StatusForbidden || r.body["code"] != "role_required" {
			t.Fatalf("a key without USER, %s %s: %d %s", op.method, op.path, r.status, r.raw)
		}
	}
	userKid, userSecret := tn.keyWith(t, account.RoleUser, account.RoleSigner)
	if r := call(t, http.MethodPatch, path, userKid, userSecret, `{"postSignumRequestMessageSigned":"AAAA"}`); r.status != http.StatusForbidden || r.body["code"] != "role_required" {
		t.Fatalf("a key without MANAGER, PATCH: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodGet, path+"/state", userKid, userSecret, ""); r.status != http.StatusOK {
		t.Fatalf("a USER key, state: %d %s", r.status, r.raw)
	}
	// Still there and undecided.
	r := call(t, http.MethodGet, psBase+"?size=1&page=0", tn.secret, "", "")
	if r.status != http.StatusOK || r.body["totalElements"] != float64(1) || r.body["requests"].([]any)[0].(map[string]any)["state"] != "PROCESSING" {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodGet, psBase+"?sort=birthCertificateNumber", tn.secret, "", ""); r.status != http.StatusBadRequest {
		t.Fatalf("bad sort: %d %s", r.status, r.raw)
	}
}
