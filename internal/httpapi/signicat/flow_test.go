package signicat_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/packaging"
)

// TestFlow_SignicatClient plays a Signicat client from its first call:
// token, a PDF and a text document, a collection packaged to
// PADES_CONTAINER; then the collection is complete (what the signing
// sessions report when their last signer signs), the worker builds the
// container, and the client finds it in the collection's output.
func TestFlow_SignicatClient(t *testing.T) {
	tn := newTenant(t)
	_, id, secret := tn.oauthClient(t)
	tokReq := form(url.Values{"grant_type": {"client_credentials"}, "scope": {"signicat-api"}})
	tokReq.basicUser, tokReq.basicPass = id, secret
	r := do(t, tokReq)
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	tok := r.body["access_token"].(string)

	pdfID := upload(t, tok, "application/pdf", testPDF(t))
	textID := upload(t, tok, "text/plain", []byte("I confirm the order of 12 chairs."))
	r = do(t, jsonReq(http.MethodPost, "/sign/document-collections", tok,
		`{"documents":[{"documentId":"`+pdfID+`"},{"documentId":"`+textID+`"}],"packageTo":["PADES_CONTAINER"]}`))
	if r.status != http.StatusCreated {
		t.Fatalf("collection: %d %s", r.status, r.raw)
	}
	colID := r.body["id"].(string)

	// Every session of the collection is signed: the sessions ask for the
	// collection's packages (here the documents stand in for their signed
	// versions) and the worker builds them.
	ctx := context.Background()
	internalID := "dcl_" + strings.ReplaceAll(colID, "-", "")
	docIDs := []string{"doc_" + strings.ReplaceAll(pdfID, "-", ""), "doc_" + strings.ReplaceAll(textID, "-", "")}
	if err := env.pkgs.Request(ctx, tn.scope, internalID, packaging.PadesContainer, "Chairs", docIDs); err != nil {
		t.Fatal(err)
	}
	if g := do(t, req{method: http.MethodGet, path: "/sign/document-collections/" + colID, bearer: tok}); len(g.body["output"].(map[string]any)["packages"].([]any)) != 0 {
		t.Fatalf("a package before it is built: %s", g.raw)
	}
	if err := env.pkgs.Build(ctx, internalID, packaging.PadesContainer, func(ctx context.Context, fn func(context.Context) error) error {
		return env.svc.PG.DB.WithTx(ctx, fn)
	}); err != nil {
		t.Fatal(err)
	}
	g := do(t, req{method: http.MethodGet, path: "/sign/document-collections/" + colID, bearer: tok})
	pkgs := g.body["output"].(map[string]any)["packages"].([]any)
	if g.status != http.StatusOK || len(pkgs) != 1 || pkgs[0].(map[string]any)["packageType"] != "PADES_CONTAINER" {
		t.Fatalf("collection output: %d %s", g.status, g.raw)
	}
	c := do(t, req{method: http.MethodGet, path: "/sign/documents/" + pkgs[0].(map[string]any)["documentId"].(string), bearer: tok})
	if c.status != http.StatusOK {
		t.Fatalf("container download: %d", c.status)
	}
	checkSealed(t, c.raw, 1)
}
