package vellum_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vellum-sign/vellum/pkg/vellum"
)

// sdkTags are the OpenAPI tags of the native API the SDK covers; every
// operation under them must be reachable through a method.
var sdkTags = []string{"Documents", "Envelopes", "Signer", "Webhooks", "Keys", "Persons", "Account"}

// TestEveryNativeOperationHasAMethod calls every SDK method against a
// recording server and matches each request to the document's operations:
// every call must land on a real operation, and every operation under
// sdkTags must be called by some method. A route added to the document
// without an SDK method fails here.
func TestEveryNativeOperationHasAMethod(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"type":"about:blank","title":"Not Found","status":404,"code":"not_found"}`))
	}))
	defer srv.Close()
	c, err := vellum.NewClient(vellum.WithBaseURL(srv.URL), vellum.WithAPIKey("sk_test_x"), vellum.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	yes := true
	all := vellum.ListParams{PageSize: 10, Sort: []string{"-createdAt"}, CreatedFrom: time.Unix(0, 0), CreatedTo: time.Now()}
	calls := []func(){
		func() { _, _ = c.Documents.Upload(ctx, strings.NewReader("%PDF-"), nil) },
		func() { _, _ = c.Documents.Get(ctx, "doc_1") },
		func() { _, _ = c.Documents.Update(ctx, "doc_1", &vellum.DocumentUpdate{}) },
		func() { _ = c.Documents.Delete(ctx, "doc_1") },
		func() { _, _ = c.Documents.Download(ctx, "doc_1") },
		func() {
			for range c.Documents.List(ctx, &vellum.DocumentListParams{ListParams: all, Signable: &yes}) {
			}
		},
		func() { _, _ = c.Envelopes.Create(ctx, &vellum.EnvelopeRequest{}) },
		func() { _, _ = c.Envelopes.Get(ctx, "env_1") },
		func() { _, _ = c.Envelopes.Update(ctx, "env_1", &vellum.EnvelopeRequest{}) },
		func() { _ = c.Envelopes.Delete(ctx, "env_1") },
		func() { _, _ = c.Envelopes.Send(ctx, "env_1") },
		func() { _, _ = c.Envelopes.Void(ctx, "env_1", "") },
		func() { _, _ = c.Envelopes.Remind(ctx, "env_1") },
		func() { _, _ = c.Envelopes.RotateRecipientLink(ctx, "env_1", "rcp_1") },
		func() { _, _ = c.Envelopes.UnlockRecipient(ctx, "env_1", "rcp_1") },
		func() { _, _ = c.Envelopes.Events(ctx, "env_1") },
		func() { _, _ = c.Envelopes.DownloadSigned(ctx, "env_1", "doc_1") },
		func() { _, _ = c.Envelopes.DownloadAuditTrail(ctx, "env_1") },
		func() {
			for range c.Envelopes.List(ctx, &vellum.EnvelopeListParams{ListParams: all, Status: []vellum.EnvelopeStatus{vellum.EnvelopeSent},
				SubjectLike: "x", ExternalReference: "y"}) {
			}
		},
		func() { _, _ = c.Signer.Get(ctx, "tok") },
		func() { _, _ = c.Signer.RequestOTP(ctx, "tok") },
		func() { _, _ = c.Signer.Sign(ctx, "tok", &vellum.SignRequest{Consent: true}) },
		func() { _, _ = c.Signer.Decline(ctx, "tok", "no") },
		func() { _, _ = c.Signer.DownloadDocument(ctx, "tok", "doc_1") },
		func() { _, _ = c.Webhooks.Create(ctx, &vellum.WebhookRequest{}) },
		func() { _, _ = c.Webhooks.Get(ctx, "wh_1") },
		func() { _, _ = c.Webhooks.Update(ctx, "wh_1", &vellum.WebhookUpdate{}) },
		func() { _ = c.Webhooks.Delete(ctx, "wh_1") },
		func() { _, _ = c.Webhooks.RotateSecret(ctx, "wh_1") },
		func() { _, _ = c.Webhooks.Test(ctx, "wh_1") },
		func() {
			for range c.Webhooks.List(ctx, &vellum.WebhookListParams{ListParams: all, Enabled: &yes}) {
			}
		},
		func() {
			for range c.Webhooks.Deliveries(ctx, "wh_1", &vellum.DeliveryListParams{ListParams: all, Status: vellum.DeliveryFailed, EventType: "webhook.test"}) {
			}
		},
		func() { _, _ = c.Webhooks.Delivery(ctx, "wh_1", "dlv_1") },
		func() { _, _ = c.Webhooks.RetryDelivery(ctx, "wh_1", "dlv_1") },
		func() { _, _ = c.Keys.Create(ctx, nil) },
		func() {
			for range c.Keys.List(ctx, &all) {
			}
		},
		func() { _ = c.Keys.Revoke(ctx, "key_1") },
		func() { _, _ = c.OAuthClients.Create(ctx, nil) },
		func() {
			for range c.OAuthClients.List(ctx, &all) {
			}
		},
		func() { _ = c.OAuthClients.Revoke(ctx, "occ_1") },
		func() { _, _ = c.Account.Get(ctx) },
		func() {
			_, _ = c.Account.Update(ctx, &vellum.AccountUpdate{EmbedOrigins: []string{"https://app.example.com"}})
		},
		func() { _, _ = c.Persons.Create(ctx, &vellum.PersonRequest{}) },
		func() { _, _ = c.Persons.Get(ctx, "per_1") },
		func() { _, _ = c.Persons.Update(ctx, "per_1", &vellum.PersonUpdate{}) },
		func() { _ = c.Persons.Delete(ctx, "per_1") },
		func() {
			for range c.Persons.List(ctx, &vellum.PersonListParams{ListParams: all, UniqueID: "u", Email: "e"}) {
			}
		},
		func() { _, _ = c.Persons.AddCertificate(ctx, "per_1", &vellum.CertificateRequest{}) },
		func() { _, _ = c.Persons.Certificate(ctx, "per_1", "crt_1") },
		func() { _, _ = c.Persons.UpdateCertificate(ctx, "per_1", "crt_1", &vellum.CertificateUpdate{}) },
		func() { _, _ = c.Persons.RevokeCertificate(ctx, "per_1", "crt_1", "") },
		func() {
			for range c.Persons.Certificates(ctx, "per_1", &all) {
			}
		},
	}
	for _, call := range calls {
		call()
	}

	b, err := os.ReadFile("../../openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type param struct {
		Ref  string `yaml:"$ref"`
		Name string `yaml:"name"`
		In   string `yaml:"in"`
	}
	var doc struct {
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			Parameters map[string]param `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	type op struct {
		id, method string
		re         *regexp.Regexp
		query      map[string]bool
	}
	queryNames := func(ps []param) map[string]bool {
		names := map[string]bool{}
		for _, p := range ps {
			if p.Ref != "" {
				p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			}
			if p.In == "query" {
				names[p.Name] = true
			}
		}
		return names
	}
	var ops []op
	want := map[string]bool{}
	placeholder := regexp.MustCompile(`\\\{[^}]+\}`)
	for path, item := range doc.Paths {
		for method, node := range item {
			var o struct {
				OperationID string   `yaml:"operationId"`
				Tags        []string `yaml:"tags"`
				Parameters  []param  `yaml:"parameters"`
			}
			if method == "parameters" || node.Decode(&o) != nil || o.OperationID == "" {
				continue
			}
			re := regexp.MustCompile("^" + placeholder.ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$")
			ops = append(ops, op{o.OperationID, strings.ToUpper(method), re, queryNames(o.Parameters)})
			for _, tag := range o.Tags {
				for _, sdkTag := range sdkTags {
					if tag == sdkTag {
						want[o.OperationID] = true
					}
				}
			}
		}
	}
	covered := map[string]bool{}
	for _, req := range got {
		method, target, _ := strings.Cut(req, " ")
		path, rawQuery, _ := strings.Cut(target, "?")
		query, err := url.ParseQuery(rawQuery)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, o := range ops {
			if o.method == method && o.re.MatchString(path) {
				covered[o.id], found = true, true
				for name := range query {
					if !o.query[name] {
						t.Errorf("%s %s: query parameter %q is not one of %s's", method, path, name, o.id)
					}
				}
			}
		}
		if !found {
			t.Errorf("the SDK calls %s, which is no operation of openapi.yaml", req)
		}
	}
	var missing []string
	for id := range want {
		if !covered[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations under %v with no SDK method (add one to pkg/vellum): %v", sdkTags, missing)
	}
	if len(want) < 40 {
		t.Errorf("only %d native operations in the document; did the tags change?", len(want))
	}
}
