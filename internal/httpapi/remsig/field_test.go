package remsig_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

// TestSignPDF_IntoANamedField: fieldName (Vellum's extension) signs into
// the document's prepared empty field, at its rectangle, so the document
// has that one signature field and it is signed; a missing or signed field
// is a 400 naming the empty ones.
func TestSignPDF_IntoANamedField(t *testing.T) {
	rect := [4]float64{72, 100, 272, 160}
	pdf := padestest.Contract([][]string{{"Agreement", "Signature:"}},
		padestest.EmptyField{Name: "ClientSignature", Page: 1, Rect: rect},
		padestest.EmptyField{Name: "WitnessSignature", Page: 1, Rect: [4]float64{300, 100, 500, 160}})
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	body := func(field, extra string) string {
		return `{"personUniqueId":"` + p.UniqueID + `","name":"contract.pdf","data":{"bytes":"` + b64(pdf) + `"},"fieldName":"` + field + `"` + extra + `}`
	}
	r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", body("Nope", ""))
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.raw), `fieldName`) ||
		!strings.Contains(string(r.raw), `\"ClientSignature\", \"WitnessSignature\"`) {
		t.Fatalf("unknown field: %d %s", r.status, r.raw)
	}
	if r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", body("ClientSignature", `,"watermark":{"position":"TOP_LEFT"}`)); r.status != http.StatusBadRequest {
		t.Fatalf("fieldName with a watermark position: %d %s", r.status, r.raw)
	}
	r = call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", body("ClientSignature", `,"watermark":{"text":"Anna White"}`))
	hash, _ := r.body["hash"].(string)
	if r.status != http.StatusOK || hash == "" {
		t.Fatalf("sign into the field: %d %s", r.status, r.raw)
	}
	if _, err := env.batches.Authorize(context.Background(), hash, "pin-123456"); err != nil {
		t.Fatal(err)
	}
	signAll(t, hash)
	signed := download(t, tn, hash)["contract.pdf"]
	rep, err := pades.Verify(bytes.NewReader(signed), int64(len(signed)), pades.VerifyOptions{})
	if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].FieldName != "ClientSignature" {
		t.Fatalf("signed: %v %+v", err, rep)
	}
	info, err := pades.Inspect(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, f := range info.SignatureFields {
		fields = append(fields, f.Name)
		if f.Name == "ClientSignature" && (!f.Signed || f.Page != 1 || f.Rect.X != rect[0] || f.Rect.Y != rect[1]) {
			t.Errorf("the field after signing: %+v", f)
		}
	}
	if strings.Join(fields, ",") != "ClientSignature,WitnessSignature" {
		t.Fatalf("signature fields after signing: %v (a new field was added?)", fields)
	}
	// Signed now: the field cannot be signed again.
	r = call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "",
		`{"personUniqueId":"`+p.UniqueID+`","name":"again.pdf","data":{"bytes":"`+b64(signed)+`"},"fieldName":"ClientSignature"}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.raw), "already signed") {
		t.Fatalf("a signed field: %d %s", r.status, r.raw)
	}
}
