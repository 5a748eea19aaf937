// Package auditpdf writes simple, text-first PDF reports such as the
// audit trail: headings, wrapped paragraphs, label/value lines, monospaced
// hashes and PNG images, flowing over A4 pages. The output is a plain,
// unencrypted PDF 1.7 file with the standard Helvetica and Courier fonts, so
// any reader (and pdftotext) can extract its text and the platform seal can
// be applied to it as an incremental PAdES revision.
package auditpdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/png"
	"strings"
)

// Page geometry (A4 in points) and layout.
const (
	pageW, pageH = 595.0, 842.0
	margin       = 50.0
	lineGap      = 1.35
)

type font string

const (
	regular font = "F1"
	bold    font = "F2"
	mono    font = "F3"
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
	title  string
	pages  []*bytes.Buffer
	y      float64
	images []*pdfImage
}

// New starts a report whose document title (Info /Title) is title.
func New(title string) *Doc {
	d := &Doc{title: title}
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

func charWidth(f font) float64 {
	if f == mono {
		return 0.6
	}
	return 0.56 // a little above Helvetica's average, so wrapped lines fit
}

// wrap splits text into lines of at most width points.
func wrap(text string, f font, size, width float64) []string {
	maxChars := int(width / (charWidth(f) * size))
	if maxChars < 1 {
		maxChars = 1
	}
	var out []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			for len([]rune(word)) > maxChars { // hashes, URLs, user agents
				if line != "" {
					out = append(out, line)
					line = ""
				}
				r := []rune(word)
				out = append(out, string(r[:maxChars]))
				word = string(r[maxChars:])
			}
			switch {
			case line == "":
				line = word
			case len([]rune(line))+1+len([]rune(word)) <= maxChars:
				line += " " + word
			default:
				out = append(out, line)
				line = word
			}
		}
		out = append(out, line)
	}
	return out
}

func (d *Doc) line(text string, f font, size, x float64) {
	d.ensure(size * lineGap)
	d.y -= size * lineGap
	fmt.Fprintf(d.cur(), "BT /%s %s Tf %s %s Td %s Tj ET\n", f, num(size), num(x), num(d.y), pdfString(text))
}

// Heading writes a section title.
func (d *Doc) Heading(text string) {
	d.ensure(40)
	d.y -= 8
	for _, l := range wrap(text, bold, 14, pageW-2*margin) {
		d.line(l, bold, 14, margin)
	}
	d.y -= 4
}

// Title writes the report's main title.
func (d *Doc) Title(text string) {
	for _, l := range wrap(text, bold, 20, pageW-2*margin) {
		d.line(l, bold, 20, margin)
	}
	d.y -= 6
}

// Para writes a wrapped paragraph.
func (d *Doc) Para(text string) {
	for _, l := range wrap(text, regular, 10, pageW-2*margin) {
		d.line(l, regular, 10, margin)
	}
	d.y -= 4
}

// KV writes "label: value", the value wrapped beside the label.
func (d *Doc) KV(label, value string) {
	const size, labelW = 9.0, 130.0
	lines := wrap(value, regular, size, pageW-2*margin-labelW)
	d.ensure(size * lineGap)
	for i, l := range lines {
		d.line(l, regular, size, margin+labelW)
		if i == 0 {
			fmt.Fprintf(d.cur(), "BT /%s %s Tf %s %s Td %s Tj ET\n", bold, num(size), num(margin), num(d.y), pdfString(label))
		}
	}
}

// Mono writes monospaced text (hashes, serials), wrapped.
func (d *Doc) Mono(text string, indent float64) {
	for _, l := range wrap(text, mono, 8, pageW-2*margin-indent) {
		d.line(l, mono, 8, margin+indent)
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
		return fmt.Errorf("auditpdf: decode PNG: %w", err)
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
	pi.rgb = make([]byte, 0, pi.w*pi.h*3)
	alpha := make([]byte, 0, pi.w*pi.h)
	opaque := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if a > 0 && a < 0xffff {
				r, g, bl = r*0xffff/a, g*0xffff/a, bl*0xffff/a
			}
			pi.rgb = append(pi.rgb, byte(r>>8), byte(g>>8), byte(bl>>8))
			alpha = append(alpha, byte(a>>8))
			if a != 0xffff {
				opaque = false
			}
		}
	}
	if !opaque {
		pi.alpha = alpha
	}
	return pi
}

// Bytes renders the PDF file.
func (d *Doc) Bytes() []byte {
	var out bytes.Buffer
	var offsets []int
	obj := func(body string) int {
		offsets = append(offsets, out.Len())
		n := len(offsets)
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", n, body)
		return n
	}
	stream := func(dict string, data []byte) int {
		offsets = append(offsets, out.Len())
		n := len(offsets)
		fmt.Fprintf(&out, "%d 0 obj\n<<%s /Length %d>>\nstream\n", n, dict, len(data))
		out.Write(data)
		out.WriteString("\nendstream\nendobj\n")
		return n
	}
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// Object numbers are fixed up front: 1 catalog, 2 page tree, 3–5 fonts.
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	offsets = append(offsets, 0) // page tree, written last
	pagesIdx := len(offsets) - 1
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
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
		n := obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >>%s >> >>",
			num(pageW), num(pageH), content, xobj))
		kids = append(kids, fmt.Sprintf("%d 0 R", n))
	}
	offsets[pagesIdx] = out.Len()
	fmt.Fprintf(&out, "2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", strings.Join(kids, " "), len(kids))
	info := obj(fmt.Sprintf("<< /Title %s /Producer (Vellum) >>", pdfString(d.title)))
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, info, xref)
	return out.Bytes()
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// pdfString encodes text as a literal string in WinAnsiEncoding; characters
// outside Latin-1 become '?', the standard fonts having no glyph for them.
func pdfString(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 32 && r <= 126:
			b.WriteRune(r)
		case r >= 0xA0 && r <= 0xFF:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte(')')
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
