package envelope_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/mail/mailtest"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// pngDot is a drawn signature: a PNG data URL of a diagonal stroke.
var pngDot = func() string {
	img := image.NewNRGBA(image.Rect(0, 0, 120, 40))
	for x := 0; x < 120; x++ {
		img.Set(x, 40*x/120, color.NRGBA{0, 0, 120, 255})
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
}()

// TestLifecycle_TwoDocumentsTwoSequentialSignersAndCC_Completes runs the
// whole life over HTTP: upload, create, send, both signers sign in turn
// (one typed, one drawn), the worker applies each signature and finalises
// to B-LTA; the results are checked with pdfsig, openssl and pdftotext.
func TestLifecycle_TwoDocumentsTwoSequentialSignersAndCC_Completes(t *testing.T) {
	c := newClient(t)
	doc1 := c.upload("contract.pdf", samplePDF("Contract", 2))
	doc2 := c.upload("annex.pdf", samplePDF("Annex", 1))
	alice, bob, carol := "alice@example.com", "bob@example.com", "carol@example.com"
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
		"subject": "Contrat de prestation", "message": "Please sign both documents.",
		"documentIds": []string{doc1, doc2}, "signingOrder": "SEQUENTIAL",
		"signText": "I have read and accept the contract and its annex.",
		"recipients": []map[string]any{
			{"email": alice, "name": "Alice Martin", "role": "SIGNER", "order": 1,
				"fields": []map[string]any{{"documentId": doc1, "type": "SIGNATURE", "page": 2, "x": 60, "y": 80, "width": 200, "height": 50}}},
			{"email": bob, "name": "Bob Durand", "role": "SIGNER", "order": 2,
				"fields": []map[string]any{{"documentId": doc1, "type": "SIGNATURE", "page": 2, "x": 300, "y": 80, "width": 200, "height": 50}}},
			{"email": carol, "name": "Carol CC", "role": "CC"},
		},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	env := r.json(t)
	id := env["id"].(string)
	if env["status"] != "DRAFT" {
		t.Fatalf("status %v", env["status"])
	}

	r = c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	if r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	sent := r.json(t)
	urls := map[string]string{}
	for _, x := range sent["recipients"].([]any) {
		rm := x.(map[string]any)
		u, _ := rm["signUrl"].(string)
		urls[rm["email"].(string)] = u
	}
	if !strings.HasPrefix(urls[alice], h.base+"/s/") || urls[bob] != "" || urls[carol] != "" {
		t.Fatalf("signUrls after send: %v", urls)
	}
	inv, err := h.smtp.Wait(30*time.Second, mailtest.To(alice, "Please sign: Contrat de prestation"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inv.Text, urls[alice]) || !strings.Contains(inv.HTML, urls[alice]) {
		t.Errorf("invitation lacks the link: %s", inv.Text)
	}

	// Alice opens, reads a document and signs (typed).
	tokA := urls[alice][len(h.base+"/s/"):]
	v := do(t, "", http.MethodGet, "/api/v1/signer/"+tokA, nil)
	if v.status != http.StatusOK {
		t.Fatalf("signer view: %d %s", v.status, v.body)
	}
	pdf := do(t, "", http.MethodGet, "/api/v1/signer/"+tokA+"/documents/"+doc1, nil)
	if pdf.status != http.StatusOK || !bytes.HasPrefix(pdf.body, []byte("%PDF")) {
		t.Fatalf("signer document: %d", pdf.status)
	}
	r = do(t, "", http.MethodPost, "/api/v1/signer/"+tokA+"/sign", map[string]any{
		"consent": true, "signature": map[string]any{"type": "typed", "text": "Alice Martin"}})
	if r.status != http.StatusOK {
		t.Fatalf("alice sign: %d %s", r.status, r.body)
	}

	// Bob's turn comes once Alice's signature is applied.
	tokB := c.tokenOf(id, bob)
	r = do(t, "", http.MethodPost, "/api/v1/signer/"+tokB+"/sign", map[string]any{
		"consent": true, "signature": map[string]any{"type": "drawn", "image": pngDot}})
	if r.status != http.StatusOK {
		t.Fatalf("bob sign: %d %s", r.status, r.body)
	}

	done := c.waitStatus(id, "COMPLETED")
	for _, x := range done["recipients"].([]any) {
		rm := x.(map[string]any)
		if rm["role"] == "SIGNER" && (rm["status"] != "SIGNED" || rm["signedAt"] == nil) {
			t.Errorf("recipient %v: %v", rm["email"], rm["status"])
		}
	}

	// The zip holds both documents, each with one valid signature per
	// signer and a document timestamp over everything.
	z := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil)
	if z.status != http.StatusOK || z.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("signed-document: %d %s", z.status, z.header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(z.body), int64(len(z.body)))
	if err != nil || len(zr.File) != 2 {
		t.Fatalf("zip: %v, %d files", err, len(zr.File))
	}
	dir := t.TempDir()
	root := writePEM(t, dir, "root.pem", h.pki.Root().Raw)
	issuing := writePEM(t, dir, "issuing.pem", h.pki.Issuing().Raw)
	finalHashes := map[string]bool{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		sum := sha256.Sum256(b.Bytes())
		finalHashes[hex.EncodeToString(sum[:])] = true
		path := filepath.Join(dir, f.Name)
		os.WriteFile(path, b.Bytes(), 0o600)
		checkSigned(t, path, b.Bytes(), []string{"Alice Martin", "Bob Durand"}, root, issuing)
	}
	one := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document?documentId="+doc2, nil)
	if one.status != http.StatusOK || one.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("signed-document?documentId: %d", one.status)
	}

	// The audit trail is sealed and names everything a judge needs.
	at := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/audit-trail", nil)
	if at.status != http.StatusOK || at.header.Get("Audit-Trail-Sealed") != "true" {
		t.Fatalf("audit trail: %d sealed=%s", at.status, at.header.Get("Audit-Trail-Sealed"))
	}
	atPath := filepath.Join(dir, "audit.pdf")
	os.WriteFile(atPath, at.body, 0o600)
	sig := pdfsig(t, atPath)
	if !strings.Contains(sig, "Signature is Valid") || !strings.Contains(sig, "Vellum") {
		t.Errorf("audit trail seal: %s", sig)
	}
	text := pdftotext(t, atPath)
	flat := strings.Join(strings.Fields(text), "")
	for _, want := range []string{id, alice, bob, carol, "Contrat de prestation", "I have read and accept"} {
		if !strings.Contains(text, want) && !strings.Contains(flat, strings.ReplaceAll(want, " ", "")) {
			t.Errorf("audit trail text lacks %q", want)
		}
	}
	for _, d := range done["documents"].([]any) {
		dm := d.(map[string]any)
		for _, hsh := range []string{dm["originalSha256"].(string), dm["sha256"].(string)} {
			if !strings.Contains(flat, hsh) {
				t.Errorf("audit trail lacks document hash %s", hsh)
			}
		}
		if !finalHashes[dm["sha256"].(string)] {
			t.Errorf("envelope's final hash %s is not a zip entry's", dm["sha256"])
		}
	}

	// Events: chained, with the expected story.
	ev := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/events", nil).json(t)
	var types []string
	prev := audit.Genesis(id) // the chain starts from the envelope's id
	for _, x := range ev["data"].([]any) {
		em := x.(map[string]any)
		types = append(types, em["type"].(string))
		if em["prevHash"] != prev {
			t.Errorf("event %v: prevHash %v, want %v", em["seq"], em["prevHash"], prev)
		}
		prev = em["hash"].(string)
	}
	joined := strings.Join(types, ",")
	for _, want := range []string{"envelope.created", "envelope.sent", "recipient.viewed", "recipient.signed", "recipient.signature_applied", "envelope.completed"} {
		if !strings.Contains(joined, want) {
			t.Errorf("events lack %s: %s", want, joined)
		}
	}

	// Completion e-mails with the signed documents attached, CC included.
	for _, who := range []string{alice, bob, carol} {
		m, err := h.smtp.Wait(30*time.Second, mailtest.To(who, "Completed: Contrat de prestation"))
		if err != nil {
			t.Fatalf("completion mail to %s: %v", who, err)
		}
		if len(m.Attachments) != 2 {
			t.Errorf("completion mail to %s has %d attachments", who, len(m.Attachments))
		}
	}
	// Document in use by a final envelope may now be deleted.
	if r := c.do(http.MethodDelete, "/api/v1/documents/"+doc2, nil); r.status != http.StatusNoContent {
		t.Errorf("delete document after completion: %d %s", r.status, r.body)
	}
}

func writePEM(t *testing.T, dir, name string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pdfsig(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("pdfsig", path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	return string(out)
}

func pdftotext(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

var sigBlock = regexp.MustCompile(`(?m)^Signature #\d+:`)

// checkSigned verifies with pdfsig that each signer has exactly one valid
// signature, and with openssl that the document timestamp's imprint covers
// the byte ranges and chains to our TSA.
func checkSigned(t *testing.T, path string, pdf []byte, signers []string, root, issuing string) {
	t.Helper()
	out := pdfsig(t, path)
	if os.Getenv("VELLUM_TEST_SHOW") != "" {
		t.Logf("pdfsig %s:\n%s", filepath.Base(path), out)
	}
	blocks := sigBlock.Split(out, -1)[1:]
	count := map[string]int{}
	for _, b := range blocks {
		for _, s := range signers {
			if strings.Contains(b, "Signer Certificate Common Name: "+s) {
				if !strings.Contains(b, "Signature Validation: Signature is Valid.") {
					t.Errorf("%s: signature of %s is not valid:\n%s", filepath.Base(path), s, b)
				}
				count[s]++
			}
		}
	}
	for _, s := range signers {
		if count[s] != 1 {
			t.Errorf("%s: %d signatures by %s, want 1\n%s", filepath.Base(path), count[s], s, out)
		}
	}
	rep, err := pades.Verify(bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var dts *pades.SignatureReport
	for i := range rep.Signatures {
		if rep.Signatures[i].DocumentTimestamp {
			dts = &rep.Signatures[i]
		}
	}
	if dts == nil {
		t.Fatalf("%s: no document timestamp", filepath.Base(path))
	}
	br := dts.ByteRange
	data := append(append([]byte{}, pdf[br[0]:br[0]+br[1]]...), pdf[br[2]:br[2]+br[3]]...)
	hexTok := bytes.Trim(pdf[br[0]+br[1]:br[2]], "<>")
	raw := make([]byte, len(hexTok)/2)
	hex.Decode(raw, hexTok)
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(raw, &rv)
	if err != nil {
		t.Fatal(err)
	}
	tok := raw[:len(raw)-len(rest)]
	dir := filepath.Dir(path)
	dataPath, tokPath := filepath.Join(dir, "ranges.bin"), filepath.Join(dir, "token.der")
	os.WriteFile(dataPath, data, 0o600)
	os.WriteFile(tokPath, tok, 0o600)
	o, err := exec.Command("openssl", "ts", "-verify", "-data", dataPath, "-in", tokPath, "-token_in",
		"-CAfile", root, "-untrusted", issuing).CombinedOutput()
	if err != nil || !strings.Contains(string(o), "Verification: OK") {
		t.Errorf("%s: openssl ts -verify: %v\n%s", filepath.Base(path), err, o)
	}
	tt, err := rfc3161.ParseToken(tok)
	if err != nil || tt.VerifyImprint(data) != nil {
		t.Errorf("%s: document timestamp imprint does not match SHA-256 of the byte ranges: %v", filepath.Base(path), err)
	}
}
