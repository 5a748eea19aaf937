package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/pkg/vellum"
	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

// TestSDK_RunsTheQuickstartAndEveryResource drives `vellum dev` through
// pkg/vellum only: Certyneo's quickstart end to end (upload, create, send,
// sign through the signer API, wait for COMPLETED, download the signed PDF
// and have pdfsig judge it), then typed errors, pagination, webhooks and
// their deliveries, keys, and persons with an issued certificate.
func TestSDK_RunsTheQuickstartAndEveryResource(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	dev := start(t, nil, "dev", "--addr", addr, "--data-dir", dir)
	key := dev.waitLine("API key:", 90*time.Second)
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusOK, 60*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := vellum.NewClient(vellum.WithBaseURL("http://"+addr), vellum.WithAPIKey(key), vellum.WithUserAgent("vellum-e2e/1"))
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile("../fixtures/test.pdf")
	if err != nil {
		t.Fatal(err)
	}

	var env *vellum.Envelope
	t.Run("quickstart", func(t *testing.T) {
		// 1. Upload from a reader that is neither seekable nor sized: streamed chunked.
		doc, err := c.Documents.Upload(ctx, io.MultiReader(bytes.NewReader(pdf)), &vellum.UploadParams{Filename: "contrat.pdf", Title: "Contrat"})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(pdf)
		if doc.SHA256 != hex.EncodeToString(sum[:]) || doc.Size != int64(len(pdf)) || doc.Filename != "contrat.pdf" || !doc.Validation.Signable {
			t.Fatalf("uploaded document: %+v", doc)
		}
		dl, err := c.Documents.Download(ctx, doc.ID)
		if err != nil {
			t.Fatal(err)
		}
		var back bytes.Buffer
		if _, err := dl.WriteTo(&back); err != nil || !bytes.Equal(back.Bytes(), pdf) || dl.ContentType != "application/pdf" {
			t.Fatalf("download: %v, %d bytes, %q", err, back.Len(), dl.ContentType)
		}

		// 2. A DRAFT envelope, 3. sent.
		env, err = c.Envelopes.Create(ctx, &vellum.EnvelopeRequest{
			Subject:     "Contrat de prestation",
			DocumentIDs: []string{doc.ID},
			Recipients:  []vellum.RecipientRequest{{Email: "client@example.com", Name: "Marie Dubois", Role: vellum.RoleSigner}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if env.Status != vellum.EnvelopeDraft {
			t.Fatalf("created envelope is %s", env.Status)
		}
		if env, err = c.Envelopes.Send(ctx, env.ID); err != nil {
			t.Fatal(err)
		}
		if env.Status != vellum.EnvelopeSent || len(env.Recipients) != 1 || env.Recipients[0].SignURL == "" {
			t.Fatalf("sent envelope: %+v", env)
		}

		// 4. Sign through the signer API, as the signing page does.
		token, err := vellum.TokenFromSignURL(env.Recipients[0].SignURL)
		if err != nil {
			t.Fatal(err)
		}
		view, err := c.Signer.Get(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if view.Recipient.Name != "Marie Dubois" || !view.Session.CanSign || len(view.Documents) != 1 {
			t.Fatalf("signer view: %+v", view)
		}
		if _, err := c.Signer.Sign(ctx, token, &vellum.SignRequest{Consent: true, Signature: vellum.TypedSignature("Marie Dubois")}); err != nil {
			t.Fatal(err)
		}

		// 5. Wait for the worker to finish: a positive signal, polled.
		for env.Status != vellum.EnvelopeCompleted {
			if env.Status.Final() {
				t.Fatalf("envelope ended %s", env.Status)
			}
			select {
			case <-ctx.Done():
				t.Fatalf("envelope still %s: %v", env.Status, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
			if env, err = c.Envelopes.Get(ctx, env.ID); err != nil {
				t.Fatal(err)
			}
		}

		// 6. The signed PDF, judged by pdfsig with the dev root trusted.
		signed, err := c.Envelopes.DownloadSigned(ctx, env.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "signed.pdf")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signed.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		nss, err := testenv.NSSDB(t.TempDir(), readPEMCert(t, filepath.Join(dir, "pki", "root.crt")))
		if err != nil {
			t.Fatal(err)
		}
		sigs, out, err := testenv.Pdfsig(nss, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(sigs) == 0 || sigs[0].Signer != "Marie Dubois" || !sigs[0].Valid() || !sigs[0].Trusted() {
			t.Fatalf("pdfsig:\n%s", out)
		}
		audit, err := c.Envelopes.DownloadAuditTrail(ctx, env.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ab bytes.Buffer
		if _, err := audit.WriteTo(&ab); err != nil || !bytes.HasPrefix(ab.Bytes(), []byte("%PDF-")) {
			t.Fatalf("audit trail: %v, %.20q", err, ab.Bytes())
		}
		events, err := c.Envelopes.Events(ctx, env.ID)
		if err != nil || len(events) == 0 || events[0].Type != "envelope.created" {
			t.Fatalf("events: %v %+v", err, events)
		}
	})
	if env == nil || env.Status != vellum.EnvelopeCompleted {
		t.FailNow()
	}

	t.Run("typed errors", func(t *testing.T) {
		_, err := c.Envelopes.Get(ctx, "env_00000000000000000000000000000000")
		var apiErr *vellum.Error
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Code == "" || apiErr.TraceID == "" {
			t.Fatalf("unknown envelope: %#v", err)
		}
		_, err = c.Envelopes.Update(ctx, env.ID, &vellum.EnvelopeRequest{Subject: "too late"})
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Code != "invalid_state" || apiErr.CurrentState != vellum.EnvelopeCompleted {
			t.Fatalf("update of a completed envelope: %#v", err)
		}
		_, err = c.Envelopes.Create(ctx, &vellum.EnvelopeRequest{Subject: "no documents", Recipients: []vellum.RecipientRequest{{Email: "not-an-address", Name: "X"}}})
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || len(apiErr.InvalidParams) < 2 {
			t.Fatalf("invalid envelope: %#v", err)
		}
		if !strings.Contains(err.Error(), apiErr.InvalidParams[0].Name) {
			t.Errorf("message %q does not name %s", err, apiErr.InvalidParams[0].Name)
		}
		anon, err := vellum.NewClient(vellum.WithBaseURL("http://" + addr))
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range anon.Envelopes.List(ctx, nil) {
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
				t.Fatalf("list without a key: %#v", err)
			}
		}
	})

	t.Run("void and decline", func(t *testing.T) {
		newSent := func(subject string) *vellum.Envelope {
			t.Helper()
			e, err := c.Envelopes.Create(ctx, &vellum.EnvelopeRequest{Subject: subject, DocumentIDs: []string{env.Documents[0].ID},
				Recipients: []vellum.RecipientRequest{{Email: "client@example.com", Name: "Marie Dubois"}}})
			if err == nil {
				e, err = c.Envelopes.Send(ctx, e.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		voided, err := c.Envelopes.Void(ctx, newSent("to void").ID, "wrong price")
		if err != nil || voided.Status != vellum.EnvelopeVoided || voided.VoidReason != "wrong price" {
			t.Fatalf("void: %v %+v", err, voided)
		}
		declining := newSent("to decline")
		token, err := vellum.TokenFromSignURL(declining.Recipients[0].SignURL)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := c.Signer.DownloadDocument(ctx, token, declining.Documents[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := doc.WriteTo(&b); err != nil || !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) {
			t.Fatalf("signer download: %v %.20q", err, b.Bytes())
		}
		if _, err := c.Signer.Decline(ctx, token, "not my contract"); err != nil {
			t.Fatal(err)
		}
		got, err := c.Envelopes.Get(ctx, declining.ID)
		if err != nil || got.Status != vellum.EnvelopeDeclined || got.Recipients[0].DeclineReason != "not my contract" {
			t.Fatalf("declined envelope: %v %+v", err, got)
		}
		_, err = c.Signer.Sign(ctx, token, &vellum.SignRequest{Consent: true, Signature: vellum.TypedSignature("Marie Dubois")})
		var apiErr *vellum.Error
		if !errors.As(err, &apiErr) || apiErr.Status < 400 || apiErr.Status >= 500 {
			t.Fatalf("signing a declined envelope: %#v", err)
		}
	})

	t.Run("if-match", func(t *testing.T) {
		draft, err := c.Envelopes.Create(ctx, &vellum.EnvelopeRequest{Subject: "v1", DocumentIDs: []string{env.Documents[0].ID},
			Recipients: []vellum.RecipientRequest{{Email: "client@example.com", Name: "Marie Dubois"}}})
		if err != nil || draft.ETag == "" {
			t.Fatalf("create: %v, ETag %q", err, draft.ETag)
		}
		v2, err := c.Envelopes.Update(vellum.WithIfMatch(ctx, draft.ETag), draft.ID, &vellum.EnvelopeRequest{Subject: "v2"})
		if err != nil || v2.Subject != "v2" || v2.ETag == draft.ETag {
			t.Fatalf("update with the current ETag: %v %+v", err, v2)
		}
		_, err = c.Envelopes.Update(vellum.WithIfMatch(ctx, draft.ETag), draft.ID, &vellum.EnvelopeRequest{Subject: "lost update"})
		var apiErr *vellum.Error
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusPreconditionFailed {
			t.Fatalf("update with a stale ETag: %#v", err)
		}
		if err := c.Envelopes.Delete(vellum.WithIfMatch(ctx, v2.ETag), draft.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("pagination", func(t *testing.T) {
		var docIDs []string
		for i := range 5 {
			d, err := c.Documents.Upload(ctx, bytes.NewReader(pdf), &vellum.UploadParams{Filename: "page" + string(rune('a'+i)) + ".pdf"})
			if err != nil {
				t.Fatal(err)
			}
			docIDs = append(docIDs, d.ID)
		}
		var seen []string
		for d, err := range c.Documents.List(ctx, &vellum.DocumentListParams{ListParams: vellum.ListParams{PageSize: 2, Sort: []string{"createdAt"}}}) {
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, d.ID)
		}
		// The quickstart's document first, then these five, over four pages.
		if len(seen) != 6 || strings.Join(seen[1:], ",") != strings.Join(docIDs, ",") {
			t.Fatalf("listed %v, uploaded %v", seen, docIDs)
		}
		n := 0
		for range c.Documents.List(ctx, &vellum.DocumentListParams{ListParams: vellum.ListParams{PageSize: 1}}) {
			if n++; n == 3 {
				break // stopping early must stop fetching, not panic
			}
		}
		for e, err := range c.Envelopes.List(ctx, &vellum.EnvelopeListParams{Status: []vellum.EnvelopeStatus{vellum.EnvelopeCompleted}}) {
			if err != nil || e.ID != env.ID {
				t.Fatalf("completed envelopes: %v %s", err, e.ID)
			}
		}
	})

	t.Run("webhooks", func(t *testing.T) {
		delivered := make(chan string, 10)
		var verifier *webhookverify.Verifier
		ready := make(chan struct{})
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-ready
			body, _ := io.ReadAll(r.Body)
			if err := verifier.Verify(body, r.Header); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			delivered <- r.Header.Get("webhook-id")
			w.WriteHeader(http.StatusNoContent)
		}))
		defer recv.Close()
		hook, err := c.Webhooks.Create(ctx, &vellum.WebhookRequest{URL: recv.URL + "/hooks", Events: []string{"envelope.completed"}, Description: "sdk"})
		if err != nil {
			t.Fatal(err)
		}
		if verifier, err = webhookverify.New(hook.Secret); err != nil {
			t.Fatal(err)
		}
		close(ready)
		dlv, err := c.Webhooks.Test(ctx, hook.ID)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-delivered:
			if id != dlv.EventID {
				t.Fatalf("delivered %s, queued %s", id, dlv.EventID)
			}
		case <-ctx.Done():
			t.Fatal("test event never delivered")
		}
		var detail *vellum.WebhookDeliveryDetail
		for detail == nil || detail.Status != vellum.DeliveryDelivered {
			if detail, err = c.Webhooks.Delivery(ctx, hook.ID, dlv.ID); err != nil {
				t.Fatal(err)
			}
			if detail.Status == vellum.DeliveryDelivered {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("delivery still %s", detail.Status)
			case <-time.After(100 * time.Millisecond):
			}
		}
		if detail.Payload.Type != "webhook.test" || len(detail.AttemptLog) == 0 || detail.AttemptLog[0].ResponseStatus == nil || *detail.AttemptLog[0].ResponseStatus != http.StatusNoContent {
			t.Fatalf("delivery detail: %+v", detail)
		}
		count := 0
		for d, err := range c.Webhooks.Deliveries(ctx, hook.ID, nil) {
			if err != nil || d.ID != dlv.ID {
				t.Fatalf("deliveries: %v %+v", err, d)
			}
			count++
		}
		disabled := false
		w, err := c.Webhooks.Update(ctx, hook.ID, &vellum.WebhookUpdate{Enabled: &disabled})
		if err != nil || w.Enabled || count != 1 {
			t.Fatalf("update: %v %+v (deliveries %d)", err, w, count)
		}
		rotated, err := c.Webhooks.RotateSecret(ctx, hook.ID)
		if err != nil || rotated.Secret == hook.Secret || rotated.PreviousSecretExpiresAt == nil {
			t.Fatalf("rotate: %v %+v", err, rotated)
		}
		if err := c.Webhooks.Delete(ctx, hook.ID); err != nil {
			t.Fatal(err)
		}
		for w, err := range c.Webhooks.List(ctx, nil) {
			t.Fatalf("listed after delete: %v %+v", err, w)
		}
	})

	t.Run("keys", func(t *testing.T) {
		k, err := c.Keys.Create(ctx, &vellum.KeyRequest{Name: "sdk"})
		if err != nil || !strings.HasPrefix(k.Secret, "sk_test_") {
			t.Fatalf("create key: %v %+v", err, k)
		}
		second, err := vellum.NewClient(vellum.WithBaseURL("http://"+addr), vellum.WithAPIKey(k.Secret))
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for key, err := range second.Keys.List(ctx, nil) {
			if err != nil {
				t.Fatal(err)
			}
			names[key.Name] = true
		}
		if !names["sdk"] || len(names) < 2 {
			t.Fatalf("keys listed: %v", names)
		}
		if err := c.Keys.Revoke(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		var apiErr *vellum.Error
		if _, err := second.Documents.Get(ctx, "doc_00000000000000000000000000000000"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
			t.Fatalf("revoked key: %#v", err)
		}
	})

	t.Run("persons", func(t *testing.T) {
		p, err := c.Persons.Create(ctx, &vellum.PersonRequest{UniqueID: "sdk-1", Email: "anna@example.com", Name: "Anna Nováková"})
		if err != nil {
			t.Fatal(err)
		}
		cert, err := c.Persons.AddCertificate(ctx, p.ID, &vellum.CertificateRequest{Type: "PERSONAL", Password: "123456"})
		if err != nil {
			t.Fatal(err)
		}
		if cert.Origin != "issued" || !cert.HasKey || !cert.IsPrimary || !strings.Contains(cert.Subject, "Anna") {
			t.Fatalf("issued certificate: %+v", cert)
		}
		for got, err := range c.Persons.Certificates(ctx, p.ID, nil) {
			if err != nil || got.ThumbprintSHA256 != cert.ThumbprintSHA256 {
				t.Fatalf("certificates: %v %+v", err, got)
			}
		}
		revoked, err := c.Persons.RevokeCertificate(ctx, p.ID, cert.ID, "superseded")
		if err != nil || revoked.Status != "revoked" || revoked.RevocationReason == nil || *revoked.RevocationReason != "superseded" {
			t.Fatalf("revoke: %v %+v", err, revoked)
		}
		for got, err := range c.Persons.List(ctx, &vellum.PersonListParams{UniqueID: "sdk-1"}) {
			if err != nil || got.ID != p.ID {
				t.Fatalf("persons: %v %+v", err, got)
			}
		}
	})
}
