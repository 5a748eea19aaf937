package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
)

// appendRevision writes an incremental update made by edit after pdf, with
// the package's own writer: a well-formed revision, as any PDF editor
// would append it.
func appendRevision(t testing.TB, pdf []byte, edit func(d *document, rv *revision)) []byte {
	t.Helper()
	d, err := openDocument(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatal(err)
	}
	rv := newRevision(d)
	edit(d, rv)
	l, err := rv.layout()
	if err != nil {
		t.Fatal(err)
	}
	return append(bytes.Clone(pdf), l.data...)
}

// setPageAnnots appends annots to page 1's /Annots, wherever it lives.
func setPageAnnots(t testing.TB, d *document, rv *revision, annots ...any) {
	t.Helper()
	pageRef, page, err := d.page(1)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := page["Annots"].(ref); ok {
		arr, _ := d.resolveArray(r)
		rv.set(r, append(append(array{}, arr...), annots...))
		return
	}
	arr, _ := page["Annots"].(array)
	page = maps.Clone(page)
	page["Annots"] = append(append(array{}, arr...), annots...)
	rv.set(pageRef, page)
}

// overlay adds a FreeText annotation over page 1: an incremental update a
// viewer shows on top of the signed page.
func overlay(t testing.TB, pdf []byte) []byte {
	return appendRevision(t, pdf, func(d *document, rv *revision) {
		pageRef, _, _ := d.page(1)
		annot, ap := rv.alloc(), rv.alloc()
		rv.setStream(ap, dict{"Type": name("XObject"), "Subtype": name("Form"), "BBox": array{int64(0), int64(0), int64(400), int64(40)},
			"Resources": dict{"Font": dict{"F1": dict{"Type": name("Font"), "Subtype": name("Type1"), "BaseFont": name("Helvetica")}}}},
			[]byte("BT /F1 24 Tf 10 10 Td (PAY EUR 1,000,000 TO MALLORY) Tj ET"))
		rv.set(annot, dict{"Type": name("Annot"), "Subtype": name("FreeText"), "Rect": array{int64(100), int64(500), int64(500), int64(540)},
			"Contents": pdfstr("PAY EUR 1,000,000 TO MALLORY"), "DA": pdfstr("/Helv 24 Tf 0 g"), "AP": dict{"N": ap}, "F": int64(4), "P": pageRef})
		setPageAnnots(t, d, rv, annot)
	})
}

func verifyBytes(t testing.TB, pdf []byte, roots *cmstest.PKI, at time.Time) *Report {
	t.Helper()
	rep, err := Verify(bytes.NewReader(pdf), int64(len(pdf)), VerifyOptions{Roots: roots.Roots(), Time: at})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// requireChange finds a change of kind whose description contains text.
func requireChange(t testing.TB, s SignatureReport, kind ChangeKind, text string, allowed bool) {
	t.Helper()
	for _, c := range s.Changes {
		if c.Kind == kind && strings.Contains(c.Description, text) && c.Allowed == allowed {
			return
		}
	}
	t.Fatalf("no %s change %q (allowed %v) in %+v", kind, text, allowed, s.Changes)
}

// Tampering after signing — each of what Adobe flags — makes the signature
// INVALID with the modification named; the signature value itself still
// verifies, which is what a validator that only checks the CMS would see.
func TestVerify_TamperingIsReportedAsModification(t *testing.T) {
	s := newTestSigner(t)
	signed := s.sign(t, readCorpus(t, "Walden.pdf"), "Alice", LevelBT)
	if rep := verifyBytes(t, signed, s.pki, time.Time{}); rep.Verdict != VerdictValid || rep.Signatures[0].Level != LevelBT {
		t.Fatalf("untouched: %s %s %+v", rep.Verdict, rep.Signatures[0].Level, rep.Signatures[0].Checks)
	}
	cases := []struct {
		name   string
		tamper func([]byte) []byte
		kind   ChangeKind
		text   string
	}{
		{"annotation overlay", func(b []byte) []byte { return overlay(t, b) }, ChangeAnnotation,
			`FreeText annotation on page 1 at [100 500 500 540]: "PAY EUR 1,000,000 TO MALLORY" added`},
		{"page content", func(b []byte) []byte {
			return appendRevision(t, b, func(d *document, rv *revision) {
				_, page, _ := d.page(1)
				c := page["Contents"]
				if arr, ok := c.(array); ok {
					c = arr[0]
				}
				rv.setStream(c.(ref), dict{}, []byte("BT /F1 40 Tf 50 50 Td (PAY MALLORY) Tj ET"))
			})
		}, ChangeOther, "the content of page 1 changed"},
		{"page added", func(b []byte) []byte {
			return appendRevision(t, b, func(d *document, rv *revision) {
				_, cat, _ := d.catalog()
				pagesRef := cat["Pages"].(ref)
				pages, _ := d.resolveDict(pagesRef)
				content, page := rv.alloc(), rv.alloc()
				rv.setStream(content, dict{}, []byte("BT /F1 40 Tf 50 50 Td (MALLORY) Tj ET"))
				rv.set(page, dict{"Type": name("Page"), "Parent": pagesRef, "MediaBox": array{int64(0), int64(0), int64(612), int64(792)}, "Contents": content})
				pages = maps.Clone(pages)
				kids, _ := d.resolveArray(pages["Kids"])
				pages["Kids"] = append(append(array{}, kids...), page)
				pages["Count"] = pages["Count"].(int64) + 1
				rv.set(pagesRef, pages)
			})
		}, ChangeOther, "pages added"},
		{"catalog entry", func(b []byte) []byte {
			return appendRevision(t, b, func(d *document, rv *revision) {
				catRef, cat, _ := d.catalog()
				cat = maps.Clone(cat)
				cat["OpenAction"] = dict{"S": name("JavaScript"), "JS": pdfstr("app.alert('hi')")}
				rv.set(catRef, cat)
			})
		}, ChangeOther, "catalog entry /OpenAction added"},
		{"junk after EOF", func(b []byte) []byte { return append(bytes.Clone(b), "\nPAY EUR 1,000,000 TO MALLORY\n"...) },
			ChangeOther, "data appended after %%EOF"},
		{"update without a cross-reference section", func(b []byte) []byte {
			return append(bytes.Clone(b), "99 0 obj\n(hidden)\nendobj\n"...)
		}, ChangeOther, "incomplete update"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tampered := tc.tamper(signed)
			rep := verifyBytes(t, tampered, s.pki, time.Time{})
			sig := rep.Signatures[0]
			if rep.Verdict != VerdictInvalid || sig.Verdict != VerdictInvalid || sig.Checks.Modifications.Status != CheckFailed {
				t.Fatalf("verdict %s, modifications %+v", rep.Verdict, sig.Checks.Modifications)
			}
			if sig.Checks.Integrity.Status != CheckPassed {
				t.Fatalf("the signature itself should still verify: %+v", sig.Checks.Integrity)
			}
			requireChange(t, sig, tc.kind, tc.text, false)
		})
	}
	t.Run("flipped byte", func(t *testing.T) {
		for _, off := range []int{200, len(signed) / 2, len(signed) - 40} {
			tampered := bytes.Clone(signed)
			tampered[off] ^= 0x01
			rep, err := Verify(bytes.NewReader(tampered), int64(len(tampered)), VerifyOptions{Roots: s.pki.Roots()})
			if err != nil {
				continue // structure damaged beyond reading: refused as well
			}
			if rep.Verdict == VerdictValid {
				t.Errorf("flip at %d: VALID", off)
			}
		}
	})
}

// What signing, validation data and form filling add after a signature
// is permitted: the signature stays VALID and the changes are listed.
func TestVerify_PermittedUpdatesPass(t *testing.T) {
	s := newTestSigner(t)
	signed := s.sign(t, readCorpus(t, "Walden.pdf"), "Alice", LevelBT)

	t.Run("signature", func(t *testing.T) {
		two := s.sign(t, signed, "Bob", LevelBB)
		rep := verifyBytes(t, two, s.pki, time.Time{})
		if rep.Verdict != VerdictValid {
			t.Fatalf("%s: %+v", rep.Verdict, rep.Signatures[0].Checks)
		}
		requireChange(t, rep.Signatures[0], ChangeSignature, `signature "Signature2" added`, true)
	})
	t.Run("DSS and document timestamp", func(t *testing.T) {
		var b1, b2 bytes.Buffer
		vd, _ := s.revocation(context.Background(), nil)
		if err := AddDSS(context.Background(), bytes.NewReader(signed), int64(len(signed)), &b1, vd); err != nil {
			t.Fatal(err)
		}
		if err := AddDocumentTimestamp(context.Background(), bytes.NewReader(b1.Bytes()), int64(b1.Len()), &b2, s.tsa); err != nil {
			t.Fatal(err)
		}
		for _, pdf := range [][]byte{b1.Bytes(), b2.Bytes()} {
			rep := verifyBytes(t, pdf, s.pki, time.Time{})
			if rep.Verdict != VerdictValid {
				t.Fatalf("%s: %+v", rep.Verdict, rep.Signatures[0].Checks)
			}
			requireChange(t, rep.Signatures[0], ChangeArchival, "validation data (DSS)", true)
		}
		rep := verifyBytes(t, b2.Bytes(), s.pki, time.Time{})
		if rep.Signatures[0].Level != LevelBLTA {
			t.Fatalf("level %s after DSS and document timestamp: %+v", rep.Signatures[0].Level, rep.Signatures[0].Checks)
		}
	})
	t.Run("form fill", func(t *testing.T) {
		form := withTextField(t, readCorpus(t, "Walden.pdf"))
		signed := s.sign(t, form, "Alice", LevelBB)
		filled := fillTextField(t, signed)
		rep := verifyBytes(t, filled, s.pki, time.Time{})
		if rep.Verdict != VerdictValid {
			t.Fatalf("%s: %+v %+v", rep.Verdict, rep.Signatures[0].Checks.Modifications, rep.Signatures[0].Changes)
		}
		requireChange(t, rep.Signatures[0], ChangeFormFill, `the value of field "Amount" changed`, true)
	})
}

// withTextField adds an empty text field "Amount" on page 1, before any
// signature.
func withTextField(t testing.TB, pdf []byte) []byte {
	return appendRevision(t, pdf, func(d *document, rv *revision) {
		pageRef, _, _ := d.page(1)
		field := rv.alloc()
		rv.set(field, dict{"FT": name("Tx"), "T": pdfstr("Amount"), "V": pdfstr(""), "Type": name("Annot"), "Subtype": name("Widget"),
			"Rect": array{int64(50), int64(700), int64(250), int64(720)}, "P": pageRef, "F": int64(4), "DA": pdfstr("/Helv 12 Tf 0 g")})
		catRef, cat, _ := d.catalog()
		cat = maps.Clone(cat)
		formRef := rv.alloc()
		rv.set(formRef, dict{"Fields": array{field}, "DA": pdfstr("/Helv 0 Tf 0 g"),
			"DR": dict{"Font": dict{"Helv": dict{"Type": name("Font"), "Subtype": name("Type1"), "BaseFont": name("Helvetica")}}}})
		cat["AcroForm"] = formRef
		rv.set(catRef, cat)
		setPageAnnots(t, d, rv, field)
	})
}

// fillTextField sets "Amount" to 1000 with a new appearance, as a viewer
// filling the form does.
func fillTextField(t testing.TB, pdf []byte) []byte {
	return appendRevision(t, pdf, func(d *document, rv *revision) {
		for n, node := range d.fieldTree() {
			if node.name != "Amount" {
				continue
			}
			fd, _ := d.resolveDict(ref{n, 0})
			ap := rv.alloc()
			rv.setStream(ap, dict{"Type": name("XObject"), "Subtype": name("Form"), "BBox": array{int64(0), int64(0), int64(200), int64(20)}},
				[]byte("/Tx BMC BT /Helv 12 Tf 2 5 Td (1000) Tj ET EMC"))
			fd = maps.Clone(fd)
			fd["V"] = pdfstr("1000")
			fd["AP"] = dict{"N": ap}
			rv.set(ref{n, 0}, fd)
			return
		}
		t.Fatal("no field Amount")
	})
}

// DocMDP decides what is permitted after a certification signature, and
// FieldMDP locks fields.
func TestVerify_HonoursDocMDPAndFieldMDP(t *testing.T) {
	s := newTestSigner(t)
	certify := func(pdf []byte, p int) []byte {
		id, _ := s.pki.Issue("Certifier", cmstest.ECDSAP256)
		var out bytes.Buffer
		if err := Sign(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), &out, Options{Signer: id.Key, Certificates: id.Chain, DocMDP: p}); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	form := withTextField(t, readCorpus(t, "Walden.pdf"))
	for _, tc := range []struct {
		p          int
		fillOK     bool
		annotateOK bool
	}{{1, false, false}, {2, true, false}, {3, true, true}} {
		certified := certify(form, tc.p)
		rep := verifyBytes(t, fillTextField(t, certified), s.pki, time.Time{})
		if rep.Signatures[0].DocMDP != tc.p || (rep.Verdict == VerdictValid) != tc.fillOK {
			t.Errorf("P=%d, form fill: %s (DocMDP %d) %+v", tc.p, rep.Verdict, rep.Signatures[0].DocMDP, rep.Signatures[0].Changes)
		}
		rep = verifyBytes(t, overlay(t, certified), s.pki, time.Time{})
		if (rep.Verdict == VerdictValid) != tc.annotateOK {
			t.Errorf("P=%d, annotation: %s %+v", tc.p, rep.Verdict, rep.Signatures[0].Changes)
		}
		// Validation data and a document timestamp are permitted at every
		// level, P=1 included, and can be added.
		var b1, b2 bytes.Buffer
		vd, _ := s.revocation(context.Background(), nil)
		if err := AddDSS(context.Background(), bytes.NewReader(certified), int64(len(certified)), &b1, vd); err != nil {
			t.Fatalf("P=%d: AddDSS: %v", tc.p, err)
		}
		if err := AddDocumentTimestamp(context.Background(), bytes.NewReader(b1.Bytes()), int64(b1.Len()), &b2, s.tsa); err != nil {
			t.Fatalf("P=%d: AddDocumentTimestamp: %v", tc.p, err)
		}
		if rep := verifyBytes(t, b2.Bytes(), s.pki, time.Time{}); rep.Verdict != VerdictValid {
			t.Errorf("P=%d, DSS and document timestamp: %s %+v", tc.p, rep.Verdict, rep.Signatures[0].Changes)
		}
	}
	// A FieldMDP lock refuses filling the fields it names, whatever else the
	// signature allows.
	signed := s.sign(t, form, "Alice", LevelBB)
	filled := fillTextField(t, signed)
	d, err := openDocument(bytes.NewReader(filled), int64(len(filled)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := d.signatures()
	end := sigs[0].byteRange[2] + sigs[0].byteRange[3]
	for _, lock := range []permissions{
		{lockAction: "All"},
		{lockAction: "Include", lockFields: map[string]bool{"Amount": true}},
		{lockAction: "Exclude", lockFields: map[string]bool{"Other": true}},
	} {
		changes := analyseChanges(d, end, lock)
		if len(changes) == 0 || changes[0].Allowed && !hasRefused(changes) {
			t.Errorf("lock %s %v: form fill permitted: %+v", lock.lockAction, lock.lockFields, changes)
		}
	}
	if changes := analyseChanges(d, end, permissions{lockAction: "Exclude", lockFields: map[string]bool{"Amount": true}}); hasRefused(changes) {
		t.Errorf("a field excluded from the lock could not be filled: %+v", changes)
	}
}

func hasRefused(changes []Change) bool {
	for _, c := range changes {
		if !c.Allowed {
			return true
		}
	}
	return false
}

// A timestamp proves the signature existed while its certificate was
// valid: after the certificate expired the signature is still VALID (at
// its timestamp's time); without a timestamp it is INDETERMINATE. The
// clock is injected, nobody waits.
func TestVerify_ExpiredCertificateProvenByTimestamp(t *testing.T) {
	s := newTestSigner(t)
	now := time.Now()
	id, err := s.pki.IssueValid("Short-Lived", cmstest.ECDSAP256, now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	in := readCorpus(t, "Walden.pdf")
	sign := func(level Level) []byte {
		var out bytes.Buffer
		opts := Options{Signer: id.Key, Certificates: id.Chain, Level: level, Timestamper: s.tsa, Revocation: s.revocation}
		if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, opts); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	later := now.Add(48 * time.Hour) // the certificate has expired; the TSA's has not
	for _, tc := range []struct {
		level   Level
		verdict Verdict
		reached Level
	}{
		{LevelBB, VerdictIndeterminate, ""},
		{LevelBT, VerdictValid, LevelBT},
		{LevelBLT, VerdictValid, LevelBLT},
		{LevelBLTA, VerdictValid, LevelBLTA},
	} {
		rep := verifyBytes(t, sign(tc.level), s.pki, later)
		sig := rep.Signatures[0]
		if sig.Verdict != tc.verdict || sig.Level != tc.reached {
			t.Errorf("%s two days later: %s at level %q, want %s at %q\n%+v", tc.level, sig.Verdict, sig.Level, tc.verdict, tc.reached, sig.Checks)
		}
		if tc.verdict == VerdictValid && !sig.ValidatedAt.Before(now.Add(time.Hour)) {
			t.Errorf("%s: validated at %v, not at the timestamp", tc.level, sig.ValidatedAt)
		}
	}
	// A chain that does not validate is never reported at a level.
	other, _ := cmstest.NewPKI()
	rep := verifyBytes(t, sign(LevelBLTA), other, time.Time{})
	if sig := rep.Signatures[0]; sig.Level != "" || sig.Verdict != VerdictIndeterminate || sig.Checks.Chain.Status != CheckIndeterminate {
		t.Errorf("untrusted root: level %q, verdict %s", sig.Level, sig.Verdict)
	}
}

// A signature made by another tool in BER — NSS (what Firefox, Thunderbird
// and poppler sign and verify with) writes indefinite lengths — embedded in
// a PDF validates, as it does in openssl and pdfsig; and our own CMS passes
// openssl cms -verify.
func TestVerify_AcceptsBERSignatureFromNSS(t *testing.T) {
	for _, tool := range []string{"openssl", "pdfsig", "certutil", "pk12util", "cmsutil"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: apt-get install openssl poppler-utils libnss3-tools", tool)
		}
	}
	s := newTestSigner(t)
	dir := t.TempDir()
	id, _ := s.pki.Issue("Nina NSS", cmstest.ECDSAP256)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(id.Key)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	keyFile := write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	certFile := write("cert.pem", cmstest.PEM(id.Chain[0]))
	write("chain.pem", cmstest.PEM(id.Chain[1]))
	rootFile := write("root.pem", cmstest.PEM(s.pki.Root))
	db := "sql:" + filepath.Join(dir, "nssdb")
	os.Mkdir(filepath.Join(dir, "nssdb"), 0o700)
	run("certutil", "-N", "-d", db, "--empty-password")
	run("certutil", "-A", "-d", db, "-n", "root", "-t", "CT,C,C", "-i", rootFile)
	run("certutil", "-A", "-d", db, "-n", "issuing", "-t", ",,", "-i", write("inter.pem", cmstest.PEM(id.Chain[1])))
	p12 := filepath.Join(dir, "id.p12")
	run("openssl", "pkcs12", "-export", "-inkey", keyFile, "-in", certFile, "-name", "nina", "-passout", "pass:x", "-out", p12)
	run("pk12util", "-i", p12, "-d", db, "-W", "x")

	// Lay out a signature revision with our writer, let NSS sign its byte
	// ranges, and put NSS's BER into /Contents.
	in := readCorpus(t, "Walden.pdf")
	d, err := openDocument(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	rv := newRevision(d)
	sigRef, apRef := rv.alloc(), rv.alloc()
	rv.setStream(apRef, dict{"Type": name("XObject"), "Subtype": name("Form"), "BBox": array{int64(0), int64(0), int64(0), int64(0)}}, nil)
	if _, err := rv.addField("", sigRef, 1, array{int64(0), int64(0), int64(0), int64(0)}, apRef); err != nil {
		t.Fatal(err)
	}
	p, err := fill(rv, sigRef, sigDict{contentsLen: 8192, entries: dict{"Type": name("Sig"), "Filter": name("Adobe.PPKLite"),
		"SubFilter": name("adbe.pkcs7.detached"), "M": pdfDate(time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	full := append(bytes.Clone(in), p.l.data...)
	ranges := write("ranges.bin", append(bytes.Clone(full[:p.a]), full[p.b:]...))
	sigFile := filepath.Join(dir, "sig.der")
	run("cmsutil", "-S", "-T", "-N", "nina", "-d", db, "-H", "SHA256", "-i", ranges, "-o", sigFile)
	ber, _ := os.ReadFile(sigFile)
	if !bytes.HasPrefix(ber, []byte{0x30, 0x80}) {
		t.Fatalf("NSS wrote no indefinite length: % x", ber[:4])
	}
	run("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sigFile, "-content", ranges,
		"-CAfile", rootFile, "-purpose", "any", "-out", os.DevNull)
	p.put(ber)
	full = append(bytes.Clone(in), p.l.data...)
	out := write("nss-signed.pdf", full)
	if o, _ := exec.Command("pdfsig", out).CombinedOutput(); !bytes.Contains(o, []byte("Signature is Valid.")) {
		t.Fatalf("pdfsig does not accept the BER signature:\n%s", o)
	}
	rep := verifyBytes(t, full, s.pki, time.Time{})
	if sig := rep.Signatures[0]; rep.Verdict != VerdictValid || sig.Level != LevelBB || sig.Signer.Name != "Nina NSS" {
		t.Fatalf("%s %s %+v", rep.Verdict, sig.Level, sig.Checks)
	}

	// Our own B-T CMS, extracted from the PDF, passes openssl cms -verify.
	ours := s.sign(t, in, "Alice", LevelBT)
	od, _ := openDocument(bytes.NewReader(ours), int64(len(ours)))
	sigs, _ := od.signatures()
	br := sigs[0].byteRange
	// The DER's own length, not a trim of the zero padding: a signature
	// may end in a zero byte.
	var der asn1.RawValue
	if _, err := asn1.Unmarshal(sigs[0].contents, &der); err != nil {
		t.Fatal(err)
	}
	oursCMS := write("ours.der", der.FullBytes)
	oursRanges := write("ours.bin", append(bytes.Clone(ours[:br[1]]), ours[br[2]:br[2]+br[3]]...))
	run("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", oursCMS, "-content", oursRanges,
		"-CAfile", rootFile, "-purpose", "any", "-out", os.DevNull)
}
