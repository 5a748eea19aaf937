package pades_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// stampPages returns, per page, how many /Stamp annotations with a normal
// appearance qpdf finds in pdf.
func stampPages(t testing.TB, pdf string) map[int]int {
	t.Helper()
	out, err := exec.Command("qpdf", "--json=1", "--json-key=pages", "--json-key=objects", pdf).Output()
	if err != nil {
		t.Fatalf("qpdf --json: %v", err)
	}
	var doc struct {
		Pages   []struct{ Object string } `json:"pages"`
		Objects map[string]map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for i, p := range doc.Pages {
		annots := doc.Objects[p.Object]["/Annots"]
		if r, ok := annots.(string); ok { // an indirect array
			annots = doc.Objects[r]["value"]
		}
		list, _ := annots.([]any)
		for _, a := range list {
			r, _ := a.(string)
			if d := doc.Objects[r]; d["/Subtype"] == "/Stamp" && d["/AP"] != nil {
				got[i+1]++
			}
		}
	}
	return got
}

// TestSign_ExtraAppearancesStampOnePDFSignature repeats the signature's
// appearance on two further places (page 1 and page 2): the file still has
// one signature field, valid and covering the whole file, the stamps are
// /Stamp annotations with the appearance on the right pages, and a second
// signer doing the same later does not count as modifying the first one's
// signed document.
func TestSign_ExtraAppearancesStampOnePDFSignature(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	opts.Visible = &pades.Visible{Page: 1, Rect: pades.Rect{X: 50, Y: 60, W: 220, H: 60}, Image: drawnSignature()}
	opts.ExtraAppearances = []pades.Placement{
		{Page: 1, Rect: pades.Rect{X: 50, Y: 400, W: 220, H: 60}},
		{Page: 2, Rect: pades.Rect{X: 150, Y: 80, W: 220, H: 60}},
	}
	out, err := f.signFile(t, filepath.Join(pdfcpuDir(), "testdata", "bookletTest.pdf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	res := requirePdfsigValid(t, out, 1)
	if !res[0].Total {
		t.Error("pdfsig: the signature does not cover the whole file")
	}
	if qpdfCheck(t, out) != 0 {
		t.Error("qpdf --check warnings")
	}
	if got := stampPages(t, out); len(got) != 2 || got[1] != 1 || got[2] != 1 {
		t.Errorf("stamps with an appearance per page = %v, want one on page 1 and one on page 2", got)
	}
	if n := strings.Count(flat(pageText(t, out, "-f", "1", "-l", "1")), "Digitally signed by Alice Example"); n != 2 {
		t.Errorf("page 1 shows the signature %d times, want 2 (widget and stamp)", n)
	}
	if txt := pageText(t, out, "-f", "2", "-l", "2"); !strings.Contains(flat(txt), "Digitally signed by Alice Example") {
		t.Errorf("page 2 lacks the stamped signature:\n%s", txt)
	}

	// A second signer stamps too: the first signature sees a signature
	// added, nothing else.
	bob, err := f.pki.Issue("Bob Example", cmstest.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	opts2 := pades.Options{Signer: bob.Key, Certificates: bob.Chain, Name: "Bob Example", FieldName: "Bob",
		Visible:          &pades.Visible{Page: 1, Rect: pades.Rect{X: 50, Y: 200, W: 220, H: 60}},
		ExtraAppearances: []pades.Placement{{Page: 3, Rect: pades.Rect{X: 50, Y: 200, W: 220, H: 60}}},
	}
	out2, err := f.signFile(t, out, opts2)
	if err != nil {
		t.Fatal(err)
	}
	requirePdfsigValid(t, out2, 2)
	if got := stampPages(t, out2); got[3] != 1 {
		t.Errorf("second signer's stamp on page 3: %v", got)
	}
	pdf, err := os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Verify(bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{Roots: f.pki.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 2 {
		t.Fatalf("Verify found %d signatures, want 2", len(rep.Signatures))
	}
	for _, s := range rep.Signatures {
		if s.Verdict != pades.VerdictValid || s.Checks.Modifications.Status != pades.CheckPassed {
			t.Errorf("%s: %s, modifications %+v, changes %+v", s.FieldName, s.Verdict, s.Checks.Modifications, s.Changes)
		}
		for _, c := range s.Changes {
			if c.Kind != pades.ChangeSignature {
				t.Errorf("%s: change %+v, want only the added signature", s.FieldName, c)
			}
		}
	}

	// Extra appearances need something to repeat, on a page that exists.
	opts.Visible, opts.ExtraAppearances = nil, []pades.Placement{{Page: 1, Rect: pades.Rect{W: 10, H: 10}}}
	if _, err := f.signFile(t, out, opts); err == nil {
		t.Error("extra appearances without a visible signature were accepted")
	}
}
