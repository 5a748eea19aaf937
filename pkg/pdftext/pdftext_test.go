package pdftext_test

import (
	"bytes"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"unicode"

	"github.com/vellum-sign/vellum/pkg/pades/padestest"
	"github.com/vellum-sign/vellum/pkg/pdftext"
)

// popplerWord is one word of `pdftotext -bbox`.
type popplerWord struct {
	page int
	text string
	box  pdftext.Box
}

var (
	pageRE = regexp.MustCompile(`<page width="`)
	wordRE = regexp.MustCompile(`<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">([^<]*)</word>`)
)

// pdftotextWords runs poppler's pdftotext -bbox on the first pages of path.
func pdftotextWords(t testing.TB, path string, lastPage int) []popplerWord {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext not found on PATH: apt-get install poppler-utils")
	}
	out, err := exec.Command("pdftotext", "-bbox", "-enc", "UTF-8", "-l", strconv.Itoa(lastPage), path, "-").Output()
	if err != nil {
		return nil // files poppler cannot read are not a reference
	}
	var words []popplerWord
	pages := pageRE.Split(string(out), -1)
	for i, p := range pages[1:] {
		for _, m := range wordRE.FindAllStringSubmatch(p, -1) {
			var v [4]float64
			for k := range v {
				v[k], _ = strconv.ParseFloat(m[k+1], 64)
			}
			words = append(words, popplerWord{page: i + 1, text: html.UnescapeString(m[5]), box: pdftext.Box{XMin: v[0], YMin: v[1], XMax: v[2], YMax: v[3]}})
		}
	}
	return words
}

// plainWord is a word worth comparing: letters and digits only, at least
// four, so that it is not a fragment poppler and we split differently.
func plainWord(s string) bool {
	n := 0
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
		n++
	}
	return n >= 4
}

// Every plain word pdftotext -bbox finds on the first pages of the corpus
// the suite signs is found by Find at the same top-left corner, within
// 1 pt: the fonts, encodings, text matrices and rotations of fifty
// producers' files, and rotated pages.
func TestFind_MatchesPdftotextBBoxOnTheCorpus(t *testing.T) {
	dir, err := padestest.PdfcpuDir()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.pdf"))
	if len(files) < 20 {
		t.Fatalf("corpus not found under %s", dir)
	}
	// Rotated pages: three files turned by qpdf (which sets /Rotate).
	tmp := t.TempDir()
	for _, rot := range []string{"90", "180", "270"} {
		for _, name := range []string{"Walden.pdf", "5116.DCT_Filter.pdf", "ECSTR11-01.pdf"} {
			out := filepath.Join(tmp, "r"+rot+"-"+name)
			if b, err := exec.Command("qpdf", "--rotate=+"+rot, filepath.Join(dir, "testdata", name), out).CombinedOutput(); err != nil {
				t.Fatalf("qpdf --rotate: %v\n%s", err, b)
			}
			files = append(files, out)
		}
	}
	const lastPage, perPage = 3, 40
	total, found := 0, 0
	for _, path := range files {
		words := pdftotextWords(t, path, lastPage)
		if len(words) == 0 {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := pdftext.Extract(bytes.NewReader(data))
		if err != nil {
			t.Logf("%s: %v (poppler reads %d words)", filepath.Base(path), err, len(words))
			total += len(words)
			continue
		}
		fileTotal, fileFound, seen := 0, 0, map[int]int{}
		var missed []string
		for _, w := range words {
			if !plainWord(w.text) || seen[w.page] >= perPage || w.page > len(doc.Pages) {
				continue
			}
			seen[w.page]++
			fileTotal++
			ok := false
			for _, b := range doc.Pages[w.page-1].Find(w.text) {
				if math.Abs(b.XMin-w.box.XMin) <= 1 && math.Abs(b.YMin-w.box.YMin) <= 1 {
					ok = true
					break
				}
			}
			if ok {
				fileFound++
			} else if len(missed) < 3 {
				missed = append(missed, w.text)
			}
		}
		total += fileTotal
		found += fileFound
		if fileFound < fileTotal {
			t.Logf("%s: %d of %d words at poppler's position (missed e.g. %q)", filepath.Base(path), fileFound, fileTotal, missed)
		}
	}
	t.Logf("%d of %d words found within 1 pt of pdftotext -bbox", found, total)
	if total < 2000 || found < total*97/100 {
		t.Fatalf("only %d of %d words found within 1 pt of pdftotext -bbox", found, total)
	}
}

// ToUser maps display space back to the page's default user space on
// every rotation: the top-left corner of "Signature:" on a contract drawn
// at baseline y 706 (Helvetica 12, ascent 0.718) is at user (72, 714.616).
func TestToUser_InvertsEveryRotation(t *testing.T) {
	for _, rot := range []int{0, 90, 180, 270} {
		pdf := padestest.Contract([][]string{{"Agreement", "Signature:"}})
		if rot != 0 {
			pdf = bytes.Replace(pdf, []byte("/MediaBox [0 0 612 792]"), []byte("/MediaBox [0 0 612 792]/Rotate "+strconv.Itoa(rot)), 1)
		}
		doc, err := pdftext.Extract(bytes.NewReader(pdf))
		if err != nil {
			t.Fatal(err)
		}
		p := &doc.Pages[0]
		boxes := p.Find("Signature:")
		if len(boxes) != 1 {
			t.Fatalf("rotate %d: %d occurrences of Signature: in %q", rot, len(boxes), p.Text())
		}
		// The text's top-left in user space is a corner of its display box.
		b := boxes[0]
		found := false
		for _, c := range [][2]float64{{b.XMin, b.YMin}, {b.XMax, b.YMin}, {b.XMin, b.YMax}, {b.XMax, b.YMax}} {
			ux, uy := p.ToUser(c[0], c[1])
			if math.Abs(ux-72) < 0.01 && math.Abs(uy-714.616) < 0.01 {
				found = true
			}
		}
		if !found {
			t.Errorf("rotate %d: box %+v does not map to user (72, 714.616)", rot, b)
		}
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(padestest.Contract([][]string{{"Agreement", "Signature:"}}, padestest.EmptyField{Name: "S", Page: 1, Rect: [4]float64{72, 100, 200, 150}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := pdftext.Extract(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := range doc.Pages {
			doc.Pages[i].Find("Signature:")
			doc.Pages[i].Text()
		}
	})
}
