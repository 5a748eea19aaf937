package envelope_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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

// bboxWords runs pdftotext -bbox on page 1 of path: word -> boxes.
func bboxWords(t *testing.T, path string) map[string][][4]float64 {
	t.Helper()
	return bboxWordsOf(t, path, 1)
}

// bboxWordsOf is bboxWords for page n.
func bboxWordsOf(t *testing.T, path string, n int) map[string][][4]float64 {
	t.Helper()
	page := strconv.Itoa(n)
	out, err := exec.Command("pdftotext", "-bbox", "-f", page, "-l", page, path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v", err)
	}
	words := map[string][][4]float64{}
	for _, m := range regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`).FindAllStringSubmatch(string(out), -1) {
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(m[i+1], 64)
		}
		words[m[5]] = append(words[m[5]], v)
	}
	return words
}

// An envelope whose signers use a prepared field by name and an anchor
// text completes; the anchored stamp lands where pdftotext -bbox says the
// text is, moved by the offsets; an anchor that is not there is a 400
// unless it may be ignored.
func TestFields_AnchorAndNamedFieldEnvelopeCompletes(t *testing.T) {
	c := newClient(t)
	// "Client signature:" on the baseline at y 692, "Witness signature:"
	// at 552; the prepared field under the first.
	pdf := padestest.Contract([][]string{{"Service agreement", "", "Client signature:", "", "", "", "", "", "", "", "", "", "Witness signature:"}},
		padestest.EmptyField{Name: "ClientSignature", Page: 1, Rect: [4]float64{72, 610, 292, 680}})
	dir := t.TempDir()
	if keep := os.Getenv("VELLUM_KEEP_PDFS"); keep != "" {
		dir = keep // to look at the pages: pdftoppm -png
	}
	orig := filepath.Join(dir, "anchors.pdf")
	if err := os.WriteFile(orig, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	doc := c.upload("anchors.pdf", pdf)
	witness := bboxWords(t, orig)["Witness"]
	if len(witness) != 1 {
		t.Fatalf("pdftotext finds Witness %d times", len(witness))
	}
	// The field's top-left goes to the text's top-left, 0.25 in right and
	// 12 pt down; in user space (page height 792) y is its bottom.
	wantX, wantTop := witness[0][0]+18, witness[0][1]+12
	wantY := 792 - wantTop - 60

	body := func(anchor map[string]any) map[string]any {
		anchor["documentId"], anchor["type"] = doc, "SIGNATURE"
		return map[string]any{"subject": "Anchors", "documentIds": []string{doc}, "recipients": []map[string]any{
			{"email": "client@example.com", "name": "Cleo Client", "role": "SIGNER",
				"fields": []map[string]any{{"documentId": doc, "type": "SIGNATURE", "fieldName": "ClientSignature"}}},
			{"email": "witness@example.com", "name": "Wanda Witness", "role": "SIGNER",
				"fields": []map[string]any{anchor}},
		}}
	}
	r := c.do(http.MethodPost, "/api/v1/envelopes", body(map[string]any{"anchorString": "Notary signature:", "width": 200, "height": 60}))
	if got := invalidParams(t, r)["recipients[1].fields[0].anchorString"]; !strings.Contains(got, `"Notary signature:" does not occur in document `+doc) {
		t.Errorf("missing anchor: %v", got)
	}
	r = c.do(http.MethodPost, "/api/v1/envelopes", body(map[string]any{"anchorString": "Notary signature:", "width": 200, "height": 60, "anchorIgnoreIfNotPresent": true}))
	if r.status != http.StatusCreated || len(r.json(t)["recipients"].([]any)[1].(map[string]any)["fields"].([]any)) != 0 {
		t.Fatalf("ignored missing anchor: %d %s", r.status, r.body)
	}
	if got := invalidParams(t, c.do(http.MethodPost, "/api/v1/envelopes", body(map[string]any{"anchorString": "Witness", "anchorUnits": "cubits", "width": 200, "height": 60})))["recipients[1].fields[0].anchorUnits"]; got == "" {
		t.Error("unknown anchorUnits accepted")
	}

	r = c.do(http.MethodPost, "/api/v1/envelopes", body(map[string]any{"anchorString": "Witness signature:", "anchorXOffset": 0.25, "anchorYOffset": 12,
		"anchorUnits": "inches", "width": 200, "height": 60}))
	if r.status != http.StatusBadRequest {
		// 0.25 in is 18 pt, 12 in would be off the page: units apply to both offsets.
		t.Fatalf("12 inches down is below the page: %d %s", r.status, r.body)
	}
	r = c.do(http.MethodPost, "/api/v1/envelopes", body(map[string]any{"anchorString": "Witness signature:", "anchorXOffset": 18, "anchorYOffset": 12,
		"anchorUnits": "points", "width": 200, "height": 60}))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	env := r.json(t)
	f := env["recipients"].([]any)[1].(map[string]any)["fields"].([]any)[0].(map[string]any)
	if f["page"] != 1.0 || math.Abs(f["x"].(float64)-wantX) > 1 || math.Abs(f["y"].(float64)-wantY) > 1 ||
		f["width"] != 200.0 || f["height"] != 60.0 || f["anchorString"] != "Witness signature:" {
		t.Fatalf("anchored field %v, want page 1 at (%.2f, %.2f) 200x60", f, wantX, wantY)
	}
	id := env["id"].(string)
	// A PATCH keeps both fields where they were placed.
	if r = c.do(http.MethodPatch, "/api/v1/envelopes/"+id, map[string]any{"subject": "Anchors, revised"}); r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	rs := r.json(t)["recipients"].([]any)
	if g := rs[1].(map[string]any)["fields"].([]any)[0].(map[string]any); g["anchorString"] != "Witness signature:" || g["x"] != f["x"] || g["y"] != f["y"] {
		t.Errorf("anchored field after PATCH: %v, was %v", g, f)
	}
	if g := rs[0].(map[string]any)["fields"].([]any)[0].(map[string]any); g["fieldName"] != "ClientSignature" || g["x"] != 72.0 {
		t.Errorf("named field after PATCH: %v", g)
	}
	if r = c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	for _, s := range []struct{ email, name string }{{"client@example.com", "Cleo Client"}, {"witness@example.com", "Wanda Witness"}} {
		tok := c.tokenOf(id, s.email)
		if r = do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{
			"consent": true, "signature": map[string]any{"type": "typed", "text": s.name}}); r.status != http.StatusOK {
			t.Fatalf("%s signs: %d %s", s.email, r.status, r.body)
		}
	}
	c.waitStatus(id, "COMPLETED")
	signed := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil)
	path := filepath.Join(dir, "anchors-signed.pdf")
	if err := os.WriteFile(path, signed.body, 0o600); err != nil {
		t.Fatal(err)
	}
	out := pdfsig(t, path)
	if strings.Count(out, "Signature is Valid.") != 2 || !strings.Contains(out, "Signature Field Name: ClientSignature") {
		t.Fatalf("pdfsig:\n%s", out)
	}
	// Each stamp is inside its box: the signer's details as pdftotext sees them.
	words := bboxWords(t, path)
	inside := func(word string, x0, top, x1, bottom float64) bool {
		for _, b := range words[word] {
			if b[0] >= x0-1 && b[1] >= top-1 && b[2] <= x1+1 && b[3] <= bottom+1 {
				return true
			}
		}
		return false
	}
	if !inside("Wanda", wantX, wantTop, wantX+200, wantTop+60) {
		t.Errorf("Wanda's stamp is not in the anchored box x %.1f..%.1f, y %.1f..%.1f: %v", wantX, wantX+200, wantTop, wantTop+60, words["Wanda"])
	}
	if !inside("Cleo", 72, 792-680, 292, 792-610) {
		t.Errorf("Cleo's stamp is not in ClientSignature's box: %v", words["Cleo"])
	}
	if os.Getenv("VELLUM_KEEP_PDFS") != "" {
		if b, err := exec.Command("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", path, filepath.Join(dir, "anchors-signed")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, b)
		}
	}
}

// A damaged upload (objects shifted behind their cross-reference offsets)
// is signable with a warning, its text is found for an anchor, and an
// envelope over it completes: the first signature rewrites it cleanly,
// pdfsig validates the result.
func TestFields_DamagedUploadIsRepairedAndSigned(t *testing.T) {
	c := newClient(t)
	good := samplePDF("Damaged", 1)
	i := bytes.IndexByte(good, '\n') + 1
	damaged := append(append(append([]byte{}, good[:i]...), "% inserted by a careless mail gateway\n"...), good[i:]...)
	doc := c.upload("damaged.pdf", damaged)
	d := c.do(http.MethodGet, "/api/v1/documents/"+doc, nil).json(t)
	v := d["validation"].(map[string]any)
	if v["signable"] != true || len(v["warnings"].([]any)) == 0 || d["pages"] != 2.0 { // the sample runs onto a second page
		t.Fatalf("damaged upload: %v", d)
	}
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{"subject": "Damaged", "documentIds": []string{doc},
		"recipients": []map[string]any{{"email": "dee@example.com", "name": "Dee Damaged",
			"fields": []map[string]any{{"documentId": doc, "type": "SIGNATURE", "anchorString": "Clause 1.3:", "width": 200, "height": 40}}}}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	tok := c.tokenOf(id, "dee@example.com")
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{"consent": true,
		"signature": map[string]any{"type": "typed", "text": "Dee Damaged"}}); r.status != http.StatusOK {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	c.waitStatus(id, "COMPLETED")
	signed := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil)
	path := filepath.Join(t.TempDir(), "damaged-signed.pdf")
	if err := os.WriteFile(path, signed.body, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := pdfsig(t, path); strings.Count(out, "Signature is Valid.") != 1 {
		t.Fatalf("pdfsig:\n%s", out)
	}
	if !strings.Contains(pdftotext(t, path), "Dee Damaged") {
		t.Error("the stamp is not on the repaired page")
	}
}
