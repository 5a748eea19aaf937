package envelope_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

// invalidParams maps a 400's invalidParams names to their reasons.
func invalidParams(t *testing.T, r response) map[string]string {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Fatalf("want 400, got %d %s", r.status, r.body)
	}
	out := map[string]string{}
	for _, p := range r.json(t)["invalidParams"].([]any) {
		m := p.(map[string]any)
		out[m["name"].(string)] = m["reason"].(string)
	}
	return out
}

// preparedContract is a contract with empty "ClientSignature" and
// "Witness" fields; with witnessed, another tool has signed "Witness".
func preparedContract(t *testing.T, witnessed bool) []byte {
	t.Helper()
	pdf := padestest.Contract([][]string{{"Service agreement", "Client signature:"}},
		padestest.EmptyField{Name: "ClientSignature", Page: 1, Rect: [4]float64{72, 500, 292, 580}},
		padestest.EmptyField{Name: "Witness", Page: 1, Rect: [4]float64{320, 500, 540, 580}})
	if !witnessed {
		return pdf
	}
	pki, err := cmstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.Issue("Wendy Witness", cmstest.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), &out,
		pades.Options{Signer: id.Key, Certificates: id.Chain, Field: "Witness"}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// The document resource lists its signature fields; envelope fields name
// them (no coordinates), and an unknown or signed name, or a box off the
// page, is a 400 naming the field at creation.
func TestFields_NamedFieldsAndPlacementAreCheckedAtCreation(t *testing.T) {
	c := newClient(t)
	doc := c.upload("witnessed.pdf", preparedContract(t, true))
	d := c.do(http.MethodGet, "/api/v1/documents/"+doc, nil).json(t)
	fields, _ := d["signatureFields"].([]any)
	if len(fields) != 2 {
		t.Fatalf("signatureFields: %v", d["signatureFields"])
	}
	want := map[string]map[string]any{
		"ClientSignature": {"page": 1.0, "x": 72.0, "y": 500.0, "width": 220.0, "height": 80.0, "signed": false},
		"Witness":         {"page": 1.0, "x": 320.0, "y": 500.0, "width": 220.0, "height": 80.0, "signed": true},
	}
	for _, f := range fields {
		m := f.(map[string]any)
		for k, v := range want[m["name"].(string)] {
			if m[k] != v {
				t.Errorf("field %s: %s = %v, want %v", m["name"], k, m[k], v)
			}
		}
	}

	create := func(doc string, field map[string]any) response {
		field["documentId"] = doc
		return c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
			"subject": "Prepared", "documentIds": []string{doc},
			"recipients": []map[string]any{{"email": "client@example.com", "name": "Cleo Client", "role": "SIGNER",
				"fields": []map[string]any{field}}},
		})
	}
	for _, tc := range []struct {
		field      map[string]any
		name, want string
	}{
		{map[string]any{"type": "SIGNATURE", "fieldName": "Nope"}, "recipients[0].fields[0].fieldName", `has no signature field "Nope"; its empty signature fields are "ClientSignature"`},
		{map[string]any{"type": "SIGNATURE", "fieldName": "Witness"}, "recipients[0].fields[0].fieldName", `signature field "Witness" of document ` + doc + ` is already signed`},
		{map[string]any{"type": "DATE", "fieldName": "ClientSignature"}, "recipients[0].fields[0].fieldName", "only SIGNATURE fields"},
		{map[string]any{"type": "SIGNATURE", "page": 1, "x": 700, "y": 100, "width": 100, "height": 40}, "recipients[0].fields[0]",
			"the SIGNATURE field's box (x 700, y 100, width 100, height 40) lies entirely outside page 1, whose visible area runs from x 0 to 612 and y 0 to 792"},
	} {
		got := invalidParams(t, create(doc, tc.field))
		if !strings.Contains(got[tc.name], tc.want) {
			t.Errorf("%v: invalidParams %v, want %s: %s", tc.field, got, tc.name, tc.want)
		}
	}

	// Named: the field takes the form field's page and rectangle, and the
	// completed document has the signature in ClientSignature; Witness
	// stays empty.
	doc = c.upload("prepared.pdf", preparedContract(t, false))
	r := create(doc, map[string]any{"type": "SIGNATURE", "fieldName": "ClientSignature"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	env := r.json(t)
	f := env["recipients"].([]any)[0].(map[string]any)["fields"].([]any)[0].(map[string]any)
	if f["fieldName"] != "ClientSignature" || f["page"] != 1.0 || f["x"] != 72.0 || f["y"] != 500.0 || f["width"] != 220.0 || f["height"] != 80.0 {
		t.Fatalf("field: %v", f)
	}
	id := env["id"].(string)
	if r = c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	tok := c.tokenOf(id, "client@example.com")
	if r = do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{
		"consent": true, "signature": map[string]any{"type": "typed", "text": "Cleo Client"}}); r.status != http.StatusOK {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	c.waitStatus(id, "COMPLETED")
	signed := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil)
	path := filepath.Join(t.TempDir(), "prepared-signed.pdf")
	if err := os.WriteFile(path, signed.body, 0o600); err != nil {
		t.Fatal(err)
	}
	out := pdfsig(t, path)
	if strings.Count(out, "Signature Field Name:") != 3 || strings.Count(out, "Signature Field Name: ClientSignature") != 1 ||
		strings.Count(out, "Signature is Valid.") != 1 || strings.Count(out, "not signed") != 1 {
		t.Fatalf("pdfsig (ClientSignature signed, Witness empty, the document timestamp):\n%s", out)
	}
	info, err := pades.Inspect(bytes.NewReader(signed.body), int64(len(signed.body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, sf := range info.SignatureFields {
		if sf.Name == "ClientSignature" && (!sf.Signed || sf.Rect != (pades.Rect{X: 72, Y: 500, W: 220, H: 80})) {
			t.Errorf("ClientSignature after completion: %+v", sf)
		}
	}
	if text := pdftotext(t, path); !strings.Contains(text, "Cleo Client") {
		t.Errorf("the stamp is not on the page:\n%s", text)
	}
}
