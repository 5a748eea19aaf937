// Package pdfreport writes simple, text-first PDF reports such as the audit
// trail: a title, headings, wrapped paragraphs, label/value lines,
// monospaced hashes, rules and PNG images, flowing over A4 pages. Text is
// drawn with pkg/pdffont in embedded Noto subsets (Latin, Greek, Cyrillic)
// and any fonts the caller adds, so every name prints as written and
// pdftotext gives it back. The output is a plain, unencrypted PDF 1.7 file,
// ready for the platform seal as an incremental PAdES revision.
package pdfreport

import (
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"errors"
	"fmt"
	"image"
	"image/png"
	"sort"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/pkg/pdffont"
	"github.com/vellum-sign/vellum/pkg/pdfimage"
)

// Page geometry (A4 in points) and layout.
const (
	pageW, pageH = 595.0, 842.0
	margin       = 50.0
	lineGap      = 1.35
)

type pdfImage struct {
	w, h      int
	rgb       []byte
	alpha     []byte // nil when opaque
	name      string
	pageIndex int
}

// Doc is a report being written.
type Doc struct {
	title               string
	fonts               *pdffont.Embedder
	regular, bold, mono pdffont.Stack
	pages               []*bytes.Buffer
	y                   float64
	images              []*pdfImage
	attachments         []attachment
	err                 error
}

// attachment is a file embedded in the report.
type attachment struct {
	name, mime, desc string
	data             []byte
	modified         time.Time
}

// New starts a report whose document title (Info /Title) is title. extra
// fonts are tried, in order, for characters the built-in ones lack.
func New(title string, extra ...*pdffont.Font) *Doc {
	d := &Doc{
		title:   title,
		fonts:   pdffont.NewEmbedder(),
		regular: append(pdffont.Stack{pdffont.Sans()}, extra...),
		bold:    append(pdffont.Stack{pdffont.SansBold(), pdffont.Sans()}, extra...),
		mono:    append(pdffont.Stack{pdffont.Mono(), pdffont.Sans()}, extra...),
	}
	d.newPage()
	return d
}

func (d *Doc) newPage() {
	d.pages = append(d.pages, &bytes.Buffer{})
	d.y = pageH - margin
}

func (d *Doc) cur() *bytes.Buffer { return d.pages[len(d.pages)-1] }

// ensure starts a new page unless h points fit above the bottom margin.
func (d *Doc) ensure(h float64) {
	if d.y-h < margin {
		d.newPage()
	}
}

// wrap splits text into lines of at most width points. A report shows
// whatever it is given: characters no font can draw (right-to-left
// scripts, for one) appear as their code points instead of failing it.
func (d *Doc) wrap(text string, s pdffont.Stack, size, width float64) []string {
	lines, err := s.Wrap(text, size, width)
	if err != nil {
		lines, err = s.Wrap(s.Printable(text), size, width)
	}
	if err != nil {
		d.fail(err)
		return nil
	}
	return lines
}

func (d *Doc) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// show draws one line of text at x, y.
func (d *Doc) show(text string, s pdffont.Stack, size, x, y float64) {
	b := fmt.Appendf(nil, "BT %s %s Td ", num(x), num(y))
	b, err := d.fonts.Show(b, s, text, size)
	if errors.Is(err, pdffont.ErrUnsupported) {
		b = fmt.Appendf(nil, "BT %s %s Td ", num(x), num(y))
		b, err = d.fonts.Show(b, s, s.Printable(text), size)
	}
	if err != nil {
		d.fail(err)
		return
	}
	d.cur().Write(b)
	d.cur().WriteString(" ET\n")
}

func (d *Doc) line(text string, s pdffont.Stack, size, x float64) {
	d.ensure(size * lineGap)
	d.y -= size * lineGap
	d.show(text, s, size, x, d.y)
}

// Heading writes a section title.
func (d *Doc) Heading(text string) {
	d.ensure(40)
	d.y -= 8
	for _, l := range d.wrap(text, d.bold, 14, pageW-2*margin) {
		d.line(l, d.bold, 14, margin)
	}
	d.y -= 4
}

// Title writes the report's main title.
func (d *Doc) Title(text string) {
	for _, l := range d.wrap(text, d.bold, 20, pageW-2*margin) {
		d.line(l, d.bold, 20, margin)
	}
	d.y -= 6
}

// Para writes a wrapped paragraph.
func (d *Doc) Para(text string) {
	for _, l := range d.wrap(text, d.regular, 10, pageW-2*margin) {
		d.line(l, d.regular, 10, margin)
	}
	d.y -= 4
}

// Label/value column layout.
const kvSize, labelW = 9.0, 130.0

// KV writes "label: value", the value wrapped beside the label.
func (d *Doc) KV(label, value string) { d.kv(label, value, d.regular, kvSize) }

// KVMono writes a label with a monospaced value (a hash, a serial number)
// beside it.
func (d *Doc) KVMono(label, value string) { d.kv(label, value, d.mono, 8) }

func (d *Doc) kv(label, value string, s pdffont.Stack, size float64) {
	lines := d.wrap(value, s, size, pageW-2*margin-labelW)
	labels := d.wrap(label, d.bold, kvSize, labelW-6)
	for i := 0; i < max(len(lines), len(labels)); i++ {
		d.ensure(kvSize * lineGap)
		d.y -= kvSize * lineGap
		if i < len(labels) {
			d.show(labels[i], d.bold, kvSize, margin, d.y)
		}
		if i < len(lines) && lines[i] != "" {
			d.show(lines[i], s, size, margin+labelW, d.y)
		}
	}
}

// Mono writes monospaced text (hashes, serials), wrapped.
func (d *Doc) Mono(text string, indent float64) {
	for _, l := range d.wrap(text, d.mono, 8, pageW-2*margin-indent) {
		d.line(l, d.mono, 8, margin+indent)
	}
}

// Space adds vertical space.
func (d *Doc) Space(pt float64) { d.y -= pt }

// Rule draws a horizontal line.
func (d *Doc) Rule() {
	d.ensure(8)
	d.y -= 4
	fmt.Fprintf(d.cur(), "0.7 G 0.5 w %s %s m %s %s l S 0 G\n", num(margin), num(d.y), num(pageW-margin), num(d.y))
	d.y -= 4
}

// Image draws a PNG scaled to fit maxW × maxH points, indented by indent.
func (d *Doc) Image(data []byte, indent, maxW, maxH float64) error {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("pdfreport: decode PNG: %w", err)
	}
	pi := toPDFImage(img)
	scale := min(maxW/float64(pi.w), maxH/float64(pi.h))
	w, h := float64(pi.w)*scale, float64(pi.h)*scale
	d.ensure(h + 4)
	d.y -= h + 4
	pi.name = fmt.Sprintf("Im%d", len(d.images)+1)
	pi.pageIndex = len(d.pages) - 1
	d.images = append(d.images, pi)
	fmt.Fprintf(d.cur(), "q %s 0 0 %s %s %s cm /%s Do Q\n", num(w), num(h), num(margin+indent), num(d.y), pi.name)
	return nil
}

func toPDFImage(img image.Image) *pdfImage {
	b := img.Bounds()
	pi := &pdfImage{w: b.Dx(), h: b.Dy()}
	pi.rgb, pi.alpha = pdfimage.Samples(img)
	return pi
}

// Attach embeds data as the file name (PDF/A-3 associated file with
// relationship Source, listed in /EmbeddedFiles and the catalog's /AF),
// byte for byte: pdfdetach gives back exactly data.
func (d *Doc) Attach(name, mimeType, desc string, data []byte, modified time.Time) {
	d.attachments = append(d.attachments, attachment{name: name, mime: mimeType, desc: desc, data: data, modified: modified})
}

// Bytes renders the PDF file.
func (d *Doc) Bytes() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	var out bytes.Buffer
	var offsets []int
	obj := func(body []byte) int {
		offsets = append(offsets, out.Len())
		n := len(offsets)
		fmt.Fprintf(&out, "%d 0 obj\n", n)
		out.Write(body)
		out.WriteString("\nendobj\n")
		return n
	}
	stream := func(dict string, data []byte) int {
		var b bytes.Buffer
		fmt.Fprintf(&b, "<<%s /Length %d>>\nstream\n", dict, len(data))
		b.Write(data)
		b.WriteString("\nendstream")
		return obj(b.Bytes())
	}
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// Object numbers 1 (catalog) and 2 (page tree) are fixed and written
	// last, when what they reference is known.
	offsets = append(offsets, 0, 0)
	catalogIdx, pagesIdx := 0, 1
	catalog, err := d.writeAttachments(obj, stream)
	if err != nil {
		return nil, err
	}
	fonts, err := d.fonts.Write(obj)
	if err != nil {
		return nil, err
	}
	var fontDict strings.Builder
	for _, f := range fonts {
		fmt.Fprintf(&fontDict, " /%s %d 0 R", f.Name, f.Object)
	}
	imageRefs := map[int][]string{}
	for _, im := range d.images {
		smask := ""
		if im.alpha != nil {
			n := stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", im.w, im.h), deflate(im.alpha))
			smask = fmt.Sprintf(" /SMask %d 0 R", n)
		}
		n := stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode%s", im.w, im.h, smask), deflate(im.rgb))
		imageRefs[im.pageIndex] = append(imageRefs[im.pageIndex], fmt.Sprintf("/%s %d 0 R", im.name, n))
	}
	var kids []string
	for i, p := range d.pages {
		content := stream(" /Filter /FlateDecode", deflate(p.Bytes()))
		xobj := ""
		if refs := imageRefs[i]; len(refs) > 0 {
			xobj = " /XObject << " + strings.Join(refs, " ") + " >>"
		}
		n := obj(fmt.Appendf(nil, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R /Resources << /Font <<%s >>%s >> >>",
			num(pageW), num(pageH), content, fontDict.String(), xobj))
		kids = append(kids, fmt.Sprintf("%d 0 R", n))
	}
	offsets[pagesIdx] = out.Len()
	fmt.Fprintf(&out, "2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", strings.Join(kids, " "), len(kids))
	offsets[catalogIdx] = out.Len()
	fmt.Fprintf(&out, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R%s >>\nendobj\n", catalog)
	info := obj(fmt.Appendf(nil, "<< /Title %s /Producer (Vellum) >>", textString(d.title)))
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, info, xref)
	return out.Bytes(), nil
}

// writeAttachments writes each attachment's stream and file specification
// and returns the catalog entries that list them (/Names /EmbeddedFiles,
// sorted by name as a name tree must be, and /AF).
func (d *Doc) writeAttachments(obj func([]byte) int, stream func(string, []byte) int) (string, error) {
	if len(d.attachments) == 0 {
		return "", nil
	}
	type entry struct {
		name string
		spec int
	}
	var entries []entry
	seen := map[string]bool{}
	for _, a := range d.attachments {
		if seen[a.name] {
			return "", fmt.Errorf("pdfreport: two attachments named %q", a.name)
		}
		seen[a.name] = true
		sum := md5.Sum(a.data)
		ef := stream(fmt.Sprintf("/Type /EmbeddedFile /Subtype /%s /Params << /Size %d /ModDate %s /CheckSum <%X> >>",
			pdfName(a.mime), len(a.data), pdfDate(a.modified), sum[:]), a.data)
		spec := obj(fmt.Appendf(nil, "<< /Type /Filespec /F %s /UF %s /Desc %s /AFRelationship /Source /EF << /F %d 0 R /UF %d 0 R >> >>",
			textString(a.name), textString(a.name), textString(a.desc), ef, ef))
		entries = append(entries, entry{a.name, spec})
	}
	var names, af strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&af, " %d 0 R", e.spec)
	}
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return utf16Key(sorted[i].name) < utf16Key(sorted[j].name) })
	for _, e := range sorted {
		fmt.Fprintf(&names, " %s %d 0 R", textString(e.name), e.spec)
	}
	return fmt.Sprintf(" /Names << /EmbeddedFiles << /Names [%s ] >> >> /AF [%s ]", names.String(), af.String()), nil
}

// utf16Key orders names as the text strings written for them compare
// (UTF-16BE bytes), the order a name tree's keys must have.
func utf16Key(s string) string { return strings.TrimSuffix(textString(s), ">") }

// pdfName writes s as a PDF name, #-escaping what a name cannot hold.
func pdfName(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < '!' || c > '~' || strings.IndexByte("#()<>[]{}/%", c) >= 0 {
			fmt.Fprintf(&b, "#%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// pdfDate writes t as a PDF date string.
func pdfDate(t time.Time) string { return "(D:" + t.UTC().Format("20060102150405") + "Z)" }

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// textString encodes s as a PDF text string (§7.9.2.2) in UTF-16BE with a
// byte order mark, written in hex.
func textString(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, r := range s {
		if r > 0xFFFF {
			r -= 0x10000
			fmt.Fprintf(&b, "%04X%04X", 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			continue
		}
		fmt.Fprintf(&b, "%04X", r)
	}
	b.WriteString(">")
	return b.String()
}

func num(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}
