package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

// pdfFixture is a platform PKI made by `vellum pki init` and a PDF signed
// with its seal by `vellum pdf sign`.
type pdfFixture struct {
	dir, pki, signed string
}

func newPDFFixture(t *testing.T) *pdfFixture {
	t.Helper()
	dir := t.TempDir()
	f := &pdfFixture{dir: dir, pki: filepath.Join(dir, "pki"), signed: filepath.Join(dir, "signed.pdf")}
	corpus, err := padestest.PdfcpuDir()
	if err != nil {
		t.Fatal(err)
	}
	f.run(t, 0, "pki", "init", "--dir", f.pki, "--public-url", "http://127.0.0.1:1")
	f.run(t, 0, "pdf", "sign", "--in", filepath.Join(corpus, "testdata", "Walden.pdf"), "--out", f.signed,
		"--cert", filepath.Join(f.pki, "seal.crt"), "--key", filepath.Join(f.pki, "seal.key"),
		"--chain", filepath.Join(f.pki, "issuing.crt"), "--reason", "CLI test")
	return f
}

// run runs the command line and checks its exit code.
func (f *pdfFixture) run(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Main(args, &stdout, &stderr); code != wantCode {
		t.Fatalf("vellum %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// verifyReport is the part of `pdf verify --json` these tests read.
type verifyReport struct {
	Verdict    string `json:"verdict"`
	Signatures []struct {
		Signer *struct {
			Name string `json:"name"`
		} `json:"signer"`
		Level   string `json:"level"`
		Verdict string `json:"verdict"`
		Checks  map[string]struct {
			Status string `json:"status"`
			Detail string `json:"detail"`
		} `json:"checks"`
		Changes []struct {
			Kind        string `json:"kind"`
			Description string `json:"description"`
			Allowed     bool   `json:"allowed"`
		} `json:"changes"`
	} `json:"signatures"`
}

func (f *pdfFixture) verifyJSON(t *testing.T, file string, wantCode int, extra ...string) verifyReport {
	t.Helper()
	out := f.run(t, wantCode, append([]string{"pdf", "verify", file, "--json"}, extra...)...)
	var rep verifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	return rep
}

func TestPDFVerify_ValidSignatureExitsZeroWithEveryCheck(t *testing.T) {
	f := newPDFFixture(t)
	roots := filepath.Join(f.pki, "root.crt")
	rep := f.verifyJSON(t, f.signed, 0, "--roots", roots)
	if rep.Verdict != "VALID" || len(rep.Signatures) != 1 {
		t.Fatalf("%+v", rep)
	}
	s := rep.Signatures[0]
	if s.Verdict != "VALID" || s.Level != "B-B" || s.Signer == nil || s.Signer.Name == "" {
		t.Fatalf("%+v", s)
	}
	for _, check := range []string{"integrity", "chain", "revocation", "timestamps", "modifications"} {
		if _, ok := s.Checks[check]; !ok {
			t.Errorf("check %q missing from the JSON report", check)
		}
	}
	if s.Checks["integrity"].Status != "passed" || s.Checks["chain"].Status != "passed" || s.Checks["modifications"].Status != "passed" {
		t.Errorf("checks %+v", s.Checks)
	}
	text := f.run(t, 0, "pdf", "verify", f.signed, "--roots", roots)
	for _, want := range []string{": VALID", "PAdES B-B", "integrity:", "modifications:"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
}

// Tampered files make `pdf verify` exit non-zero and say why.
func TestPDFVerify_TamperedFilesExitNonZero(t *testing.T) {
	f := newPDFFixture(t)
	roots := filepath.Join(f.pki, "root.crt")
	signed, err := os.ReadFile(f.signed)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	junk := write("junk.pdf", append(bytes.Clone(signed), "\nPAY EUR 1,000,000 TO MALLORY\n"...))
	rep := f.verifyJSON(t, junk, 1, "--roots", roots)
	s := rep.Signatures[0]
	if rep.Verdict != "INVALID" || s.Checks["modifications"].Status != "failed" || s.Level != "" ||
		len(s.Changes) != 1 || s.Changes[0].Allowed || !strings.Contains(s.Changes[0].Description, "after %%EOF") {
		t.Fatalf("junk after EOF: %+v", rep)
	}

	flipped := bytes.Clone(signed)
	flipped[len(signed)/3] ^= 0x01
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"pdf", "verify", write("flipped.pdf", flipped), "--roots", roots}, &stdout, &stderr); code == 0 {
		t.Fatalf("flipped byte accepted:\n%s", stdout.String())
	}

	// Without a trust anchor nothing is broken, but nothing is shown valid.
	rep = f.verifyJSON(t, f.signed, 1)
	if rep.Verdict != "INDETERMINATE" || rep.Signatures[0].Checks["chain"].Status != "indeterminate" || rep.Signatures[0].Level != "" {
		t.Fatalf("untrusted root: %+v", rep)
	}
}

// appendUpdate appends an incremental update holding objs (object number ->
// body) with a classic cross-reference table, as a PDF editor would: the
// trailer continues the file's newest section.
func appendUpdate(t *testing.T, pdf []byte, objs map[int]string) []byte {
	t.Helper()
	last := func(re string) string {
		m := regexp.MustCompile(re).FindAllSubmatch(pdf, -1)
		if len(m) == 0 {
			t.Fatalf("%s not found", re)
		}
		return string(m[len(m)-1][1])
	}
	root, info, size, prev := last(`/Root (\d+ \d+ R)`), last(`/Info (\d+ \d+ R)`), last(`/Size (\d+)`), last(`startxref\s+(\d+)`)
	out := append(bytes.Clone(pdf), '\n')
	nums := slices.Sorted(maps.Keys(objs))
	offsets := map[int]int{}
	for _, n := range nums {
		offsets[n] = len(out)
		out = fmt.Appendf(out, "%d 0 obj\n%s\nendobj\n", n, objs[n])
	}
	xref := len(out)
	out = append(out, "xref\n"...)
	for _, n := range nums {
		out = fmt.Appendf(out, "%d 1\n%010d 00000 n\r\n", n, offsets[n])
	}
	maxNum, _ := strconv.Atoi(size)
	maxNum = max(maxNum, nums[len(nums)-1]+1)
	return fmt.Appendf(out, "trailer\n<</Size %d/Root %s/Info %s/Prev %s>>\nstartxref\n%d\n%%%%EOF\n", maxNum, root, info, prev, xref)
}

// streamObject is the body of a stream object holding data.
func streamObject(dict, data string) string {
	return fmt.Sprintf("<<%s/Length %d>>\nstream\n%s\nendstream", dict, len(data), data)
}

// An annotation laid over the page and a changed page content — updates
// any PDF editor can append — make `pdf verify` exit 1 and name the change,
// although the signature value itself still verifies.
func TestPDFVerify_ModifiedAfterSigningExitsNonZero(t *testing.T) {
	f := newPDFFixture(t)
	roots := filepath.Join(f.pki, "root.crt")
	signed, err := os.ReadFile(f.signed)
	if err != nil {
		t.Fatal(err)
	}
	// Page 1 as the signature revision rewrote it (with its widget).
	m := regexp.MustCompile(`(?s)\n(\d+) 0 obj\n(<</Type /Page/.*?>>)\nendobj`).FindAllSubmatch(signed, -1)
	if len(m) == 0 {
		t.Fatal("page 1 not found in the signature revision")
	}
	pageNum, page := string(m[len(m)-1][1]), string(m[len(m)-1][2])
	size, _ := strconv.Atoi(string(regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(signed, -1)[0][1]))
	pn, _ := strconv.Atoi(pageNum)
	annot, ap := size+10, size+11
	overlay := appendUpdate(t, signed, map[int]string{
		pn: strings.Replace(page, "/Annots [", fmt.Sprintf("/Annots [%d 0 R ", annot), 1),
		annot: fmt.Sprintf("<</Type /Annot/Subtype /FreeText/Rect [100 500 500 540]/Contents (PAY EUR 1,000,000 TO MALLORY)"+
			"/DA (/Helv 24 Tf 0 g)/F 4/P %s 0 R/AP <</N %d 0 R>>>>", pageNum, ap),
		ap: streamObject("/Type /XObject/Subtype /Form/BBox [0 0 400 40]/Resources <</Font <</F1 <</Type /Font/Subtype /Type1/BaseFont /Helvetica>>>>>>",
			"BT /F1 24 Tf 10 10 Td (PAY EUR 1,000,000 TO MALLORY) Tj ET"),
	})
	contents := string(regexp.MustCompile(`/Contents (\d+) 0 R`).FindStringSubmatch(page)[1])
	cn, _ := strconv.Atoi(contents)
	content := appendUpdate(t, signed, map[int]string{
		cn: streamObject("", "BT /F1 40 Tf 50 50 Td (MALLORY) Tj ET"),
	})
	for _, tc := range []struct {
		name string
		pdf  []byte
		want string
	}{
		{"annotation overlay", overlay, `FreeText annotation on page 1 at [100 500 500 540]: "PAY EUR 1,000,000 TO MALLORY" added`},
		{"page content", content, "the content of page 1 changed"},
	} {
		path := filepath.Join(f.dir, strings.ReplaceAll(tc.name, " ", "-")+".pdf")
		if err := os.WriteFile(path, tc.pdf, 0o600); err != nil {
			t.Fatal(err)
		}
		rep := f.verifyJSON(t, path, 1, "--roots", roots)
		s := rep.Signatures[0]
		if rep.Verdict != "INVALID" || s.Checks["integrity"].Status != "passed" || s.Checks["modifications"].Status != "failed" ||
			len(s.Changes) != 1 || s.Changes[0].Allowed || s.Changes[0].Description != tc.want {
			t.Errorf("%s: %+v", tc.name, rep)
		}
		if pdfsig, err := exec.LookPath("pdfsig"); err == nil {
			// What a validator that checks only the signature value says.
			out, _ := exec.Command(pdfsig, path).CombinedOutput()
			if !bytes.Contains(out, []byte("Signature is Valid.")) {
				t.Errorf("%s: not a well-formed update: pdfsig no longer reads the signature:\n%s", tc.name, out)
			}
		} else {
			t.Fatal("pdfsig not found: apt-get install poppler-utils")
		}
	}
}

func TestPDFVerify_RejectsBadTime(t *testing.T) {
	f := newPDFFixture(t)
	f.run(t, 2, "pdf", "verify", f.signed, "--time", "yesterday")
	rep := f.verifyJSON(t, f.signed, 1, "--roots", filepath.Join(f.pki, "root.crt"), "--time", "2199-01-01T00:00:00Z")
	if rep.Verdict != "INDETERMINATE" || !strings.Contains(rep.Signatures[0].Checks["chain"].Detail, "expired") {
		t.Fatalf("validated in 2199, after every certificate expired: %+v", rep)
	}
}

// runErr runs the command line expecting exit code 1 and returns stderr.
func (f *pdfFixture) runErr(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Main(args, &stdout, &stderr); code != 1 {
		t.Fatalf("vellum %s: exit %d, want 1\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stderr.String()
}

// `pdf sign --field ClientSignature` signs into the prepared empty field:
// pdfsig lists exactly one signature field, ClientSignature, valid; an
// earlier signature stays valid; a signed or unknown field is refused.
func TestPDFSign_IntoPreparedField(t *testing.T) {
	f := newPDFFixture(t)
	contract := filepath.Join(f.dir, "contract.pdf")
	if err := os.WriteFile(contract, padestest.Contract([][]string{{"Agreement", "Signature:"}},
		padestest.EmptyField{Name: "ClientSignature", Page: 1, Rect: [4]float64{72, 600, 272, 660}}), 0o600); err != nil {
		t.Fatal(err)
	}
	sign := func(in, out string, extra ...string) []string {
		return append([]string{"pdf", "sign", "--in", in, "--out", out,
			"--cert", filepath.Join(f.pki, "seal.crt"), "--key", filepath.Join(f.pki, "seal.key"),
			"--chain", filepath.Join(f.pki, "issuing.crt")}, extra...)
	}
	pdfsig := func(path string) string {
		out, err := exec.Command("pdfsig", path).CombinedOutput()
		if err != nil && !bytes.Contains(out, []byte("Signature #")) {
			t.Fatalf("pdfsig: %v\n%s", err, out)
		}
		return string(out)
	}
	signed := filepath.Join(f.dir, "contract-signed.pdf")
	f.run(t, 0, sign(contract, signed, "--field", "ClientSignature")...)
	out := pdfsig(signed)
	if strings.Count(out, "Signature Field Name:") != 1 || !strings.Contains(out, "Signature Field Name: ClientSignature") ||
		strings.Count(out, "Signature is Valid.") != 1 {
		t.Fatalf("pdfsig after --field ClientSignature:\n%s", out)
	}

	if msg := f.runErr(t, sign(signed, filepath.Join(f.dir, "again.pdf"), "--field", "ClientSignature")...); !strings.Contains(msg, `"ClientSignature": the signature field is already signed`) {
		t.Errorf("signing a signed field: %s", msg)
	}
	if msg := f.runErr(t, sign(contract, filepath.Join(f.dir, "x.pdf"), "--field", "Witness")...); !strings.Contains(msg, `"Witness": no such signature field`) {
		t.Errorf("signing an unknown field: %s", msg)
	}

	// An earlier signature (a new field) stays valid under the field's.
	first := filepath.Join(f.dir, "first.pdf")
	both := filepath.Join(f.dir, "both.pdf")
	f.run(t, 0, sign(contract, first)...)
	f.run(t, 0, sign(first, both, "--field", "ClientSignature", "--signature", "Ada Lovelace")...)
	out = pdfsig(both)
	if strings.Count(out, "Signature Field Name:") != 2 || strings.Count(out, "Signature is Valid.") != 2 ||
		!strings.Contains(out, "Signature Field Name: ClientSignature") {
		t.Fatalf("pdfsig after a second signature into the field:\n%s", out)
	}
	rep := f.verifyJSON(t, both, 0, "--roots", filepath.Join(f.pki, "root.crt"))
	if rep.Verdict != "VALID" || len(rep.Signatures) != 2 {
		t.Fatalf("pdf verify: %+v", rep)
	}
}

// `pdf sign` repairs a damaged file without signatures and signs it; one
// with signatures is refused with UNMODIFIABLE, naming why.
func TestPDFSign_DamagedFiles(t *testing.T) {
	f := newPDFFixture(t)
	shift := func(pdf []byte) []byte {
		i := bytes.IndexByte(pdf, '\n') + 1
		return append(append(append([]byte{}, pdf[:i]...), "% shifted\n"...), pdf[i:]...)
	}
	sign := func(in, out string) []string {
		return []string{"pdf", "sign", "--in", in, "--out", out, "--cert", filepath.Join(f.pki, "seal.crt"),
			"--key", filepath.Join(f.pki, "seal.key"), "--chain", filepath.Join(f.pki, "issuing.crt")}
	}
	damaged := filepath.Join(f.dir, "damaged.pdf")
	if err := os.WriteFile(damaged, shift(padestest.Contract([][]string{{"Agreement"}})), 0o600); err != nil {
		t.Fatal(err)
	}
	repaired := filepath.Join(f.dir, "repaired.pdf")
	f.run(t, 0, sign(damaged, repaired)...)
	if out, _ := exec.Command("pdfsig", repaired).CombinedOutput(); strings.Count(string(out), "Signature is Valid.") != 1 {
		t.Fatalf("pdfsig on the repaired file:\n%s", out)
	}
	signed, err := os.ReadFile(f.signed)
	if err != nil {
		t.Fatal(err)
	}
	damagedSigned := filepath.Join(f.dir, "damaged-signed.pdf")
	if err := os.WriteFile(damagedSigned, shift(signed), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg := f.runErr(t, sign(damagedSigned, filepath.Join(f.dir, "x.pdf"))...); !strings.Contains(msg, "UNMODIFIABLE") || !strings.Contains(msg, "damaged and it carries signatures") {
		t.Errorf("damaged signed file: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "x.pdf")); !os.IsNotExist(err) {
		t.Error("an output was written for a refused file")
	}
}
