// Package pdftext extracts the text of PDF pages with the position of every
// character, so that callers can find a text on a page and place something
// relative to it (anchor tabs, text tags).
//
// Positions are in points in the page's display space, as a viewer shows
// it and as poppler's `pdftotext -bbox` reports them: origin at the top-left
// corner of the MediaBox after /Rotate, x to the right, y downwards. A
// character's box runs from its origin to its advance horizontally and from
// the font's ascent to its descent vertically. Page.ToUser maps display
// space back to default user space, where form fields live.
//
// Fonts are read as PDF readers do: /ToUnicode maps first; otherwise the
// simple fonts' encodings (WinAnsi, MacRoman, Standard, /Differences glyph
// names) and CID fonts' Identity encodings. Widths come from /Widths, /W
// and /DW, or from the standard fonts' metrics.
package pdftext

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"unicode"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Box is a rectangle in display space: XMin ≤ XMax, YMin (top) ≤ YMax.
type Box struct{ XMin, YMin, XMax, YMax float64 }

// Char is one character shown on a page.
type Char struct {
	Rune rune
	Box  Box
	// Size is the font size in display space; base the baseline's y.
	Size float64
	base float64
	dir  int // 0 left to right, 1 top to bottom, 2 upside down, 3 bottom to top
}

// span is the character's extent along its text direction.
func (c Char) span() (float64, float64) {
	switch c.dir {
	case 1:
		return c.Box.YMin, c.Box.YMax
	case 2:
		return -c.Box.XMax, -c.Box.XMin
	case 3:
		return -c.Box.YMax, -c.Box.YMin
	}
	return c.Box.XMin, c.Box.XMax
}

// Page is the text of one page.
type Page struct {
	Number int
	// Width and Height of the displayed page (MediaBox after /Rotate).
	Width, Height float64
	Chars         []Char
	// toDisplay maps default user space to display space.
	toDisplay matrix
}

// Document is the text of every page.
type Document struct{ Pages []Page }

// Limits on hostile input.
const (
	maxOps      = 2_000_000 // content operators interpreted per document
	maxFormNest = 8         // nested form XObjects
)

var disableConfigDir sync.Once

// NewConfiguration is pdfcpu's default configuration in relaxed validation
// mode, without pdfcpu's configuration directory: nothing is written under
// $HOME. It does what pdfcpu's api.DisableConfigDir does, because importing
// pkg/api for that would link pdfcpu's form filling and go-runewidth, whose
// package initialiser builds a 2 MB character-width table at the start of
// every process (~10 ms of CPU even for `vellum pdf sign`).
func NewConfiguration() *model.Configuration {
	disableConfigDir.Do(func() { model.ConfigPath = "disable" })
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	return conf
}

// Extract reads the text of every page of the PDF in rs. A page whose
// content cannot be read keeps the characters read before the problem.
func Extract(rs io.ReadSeeker) (doc *Document, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("pdftext: malformed PDF: %v", r)
		}
	}()
	conf := NewConfiguration()
	ctx, err := pdfcpu.Read(rs, conf)
	if err != nil {
		return nil, fmt.Errorf("pdftext: read PDF: %w", err)
	}
	if err := ctx.EnsurePageCount(); err != nil {
		return nil, fmt.Errorf("pdftext: page count: %w", err)
	}
	x := &extractor{xt: ctx.XRefTable, fonts: map[types.IndirectRef]*font{}}
	doc = &Document{}
	for n := 1; n <= ctx.PageCount; n++ {
		pd, _, inh, err := ctx.PageDict(n, false)
		if err != nil {
			return nil, fmt.Errorf("pdftext: page %d: %w", n, err)
		}
		doc.Pages = append(doc.Pages, x.page(n, pd, inh))
	}
	return doc, nil
}

// page interprets one page's content.
func (x *extractor) page(n int, pd types.Dict, inh *model.InheritedPageAttrs) Page {
	media := types.NewRectangle(0, 0, 612, 792)
	if a, err := x.xt.DereferenceArray(pd["MediaBox"]); err == nil && len(a) == 4 {
		if r := x.rect(a); r != nil {
			media = r
		}
	} else if inh != nil && inh.MediaBox != nil {
		media = inh.MediaBox
	}
	rotate := 0
	if r, ok := x.num(pd["Rotate"]); ok {
		rotate = int(r)
	} else if inh != nil {
		rotate = inh.Rotate
	}
	rotate = ((rotate % 360) + 360) % 360 / 90 * 90
	p := Page{Number: n}
	x0, y0, x1, y1 := media.LL.X, media.LL.Y, media.UR.X, media.UR.Y
	// As poppler's GfxState: user space to a top-down display space.
	switch rotate {
	case 90:
		p.toDisplay = matrix{0, 1, 1, 0, -y0, -x0}
		p.Width, p.Height = y1-y0, x1-x0
	case 180:
		p.toDisplay = matrix{-1, 0, 0, 1, x1, -y0}
		p.Width, p.Height = x1-x0, y1-y0
	case 270:
		p.toDisplay = matrix{0, -1, -1, 0, y1, x1}
		p.Width, p.Height = y1-y0, x1-x0
	default:
		p.toDisplay = matrix{1, 0, 0, -1, -x0, y1}
		p.Width, p.Height = x1-x0, y1-y0
	}
	res, _ := x.xt.DereferenceDict(pd["Resources"])
	if res == nil && inh != nil {
		res = inh.Resources
	}
	content, err := x.xt.PageContent(pd, n)
	if err != nil && !errors.Is(err, model.ErrNoContent) {
		return p
	}
	in := &interp{x: x, page: &p, res: res, gs: graphics{ctm: identity, th: 1}}
	in.run(content, 0)
	x.annotations(&p, pd)
	return p
}

// annotations runs the normal appearance of every annotation a viewer
// shows (not Hidden or NoView), placed in its /Rect as §12.5.5 describes,
// so that text in filled forms and free-text annotations is found too.
func (x *extractor) annotations(p *Page, pd types.Dict) {
	annots, _ := x.xt.DereferenceArray(pd["Annots"])
	for i, a := range annots {
		if i > 1000 {
			return
		}
		ad, _ := x.xt.DereferenceDict(a)
		if ad == nil {
			continue
		}
		if f, _ := x.num(ad["F"]); int(f)&(2|32) != 0 {
			continue
		}
		ap, _ := x.xt.DereferenceDict(ad["AP"])
		n := ap["N"]
		if states, _ := x.xt.DereferenceDict(n); states != nil && states["Type"] == nil && states["BBox"] == nil {
			n = states[x.name(ad["AS"])]
		}
		sd, _, err := x.xt.DereferenceStreamDict(n)
		if err != nil || sd == nil || sd.Decode() != nil {
			continue
		}
		ra, _ := x.xt.DereferenceArray(ad["Rect"])
		rect := x.rect(ra)
		ba, _ := x.xt.DereferenceArray(sd.Dict["BBox"])
		bbox := x.rect(ba)
		if rect == nil || bbox == nil || len(ra) != 4 || len(ba) != 4 {
			continue
		}
		m := identity
		if ma, err := x.xt.DereferenceArray(sd.Dict["Matrix"]); err == nil && len(ma) == 6 {
			for k, e := range ma {
				m[k], _ = x.num(e)
			}
		}
		// The transformed bounding box, fitted onto the rectangle.
		bx0, by0, bx1, by1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, c := range [][2]float64{{bbox.LL.X, bbox.LL.Y}, {bbox.UR.X, bbox.LL.Y}, {bbox.LL.X, bbox.UR.Y}, {bbox.UR.X, bbox.UR.Y}} {
			tx, ty := m.apply(c[0], c[1])
			bx0, by0, bx1, by1 = math.Min(bx0, tx), math.Min(by0, ty), math.Max(bx1, tx), math.Max(by1, ty)
		}
		if bx1 <= bx0 || by1 <= by0 {
			continue
		}
		sx, sy := rect.Width()/(bx1-bx0), rect.Height()/(by1-by0)
		fit := matrix{sx, 0, 0, sy, rect.LL.X - bx0*sx, rect.LL.Y - by0*sy}
		res, _ := x.xt.DereferenceDict(sd.Dict["Resources"])
		in := &interp{x: x, page: p, res: res, gs: graphics{ctm: m.mul(fit), th: 1}}
		in.run(sd.Content, 1)
	}
}

// ToUser maps a point of display space to default user space.
func (p *Page) ToUser(dx, dy float64) (float64, float64) {
	inv, ok := p.toDisplay.invert()
	if !ok {
		return dx, dy
	}
	return inv.apply(dx, dy)
}

// Text is the page's text in content order, with a space between words
// and a newline between lines, as found by Find.
func (p *Page) Text() string {
	var b strings.Builder
	for i, c := range p.Chars {
		if i > 0 {
			switch gap(p.Chars[i-1], c) {
			case gapLine:
				b.WriteByte('\n')
			case gapWord:
				b.WriteByte(' ')
			}
		}
		b.WriteRune(c.Rune)
	}
	return b.String()
}

type gapKind int

const (
	gapNone gapKind = iota
	gapWord
	gapLine
)

// gap classifies the space between two consecutive characters: another
// line when the baseline moves by more than half the font size or the text
// runs backwards; a word break when they are further apart than a tenth
// of the size (poppler's default minimum word spacing), or either is a
// space.
func gap(a, b Char) gapKind {
	size := math.Max(a.Size, b.Size)
	a0, a1 := a.span()
	b0, _ := b.span()
	if a.dir != b.dir || math.Abs(a.base-b.base) > size*0.5 || b0 < a0-size*0.5 {
		return gapLine
	}
	if unicode.IsSpace(a.Rune) || unicode.IsSpace(b.Rune) || b0-a1 > size*0.1 {
		return gapWord
	}
	return gapNone
}

// Find returns the box of every occurrence of s on the page, in content
// order. Runs of white space in s match any word or line break; case and
// everything else must match exactly. An occurrence spanning lines gets
// the box of its first line.
func (p *Page) Find(s string) []Box {
	want := strings.Fields(s)
	if len(want) == 0 {
		return nil
	}
	// tokens: the page's characters with their breaks, white space folded.
	type tok struct {
		r   rune
		i   int // index into Chars, -1 for a break
		brk bool
	}
	var toks []tok
	for i, c := range p.Chars {
		if unicode.IsSpace(c.Rune) {
			if len(toks) > 0 && !toks[len(toks)-1].brk {
				toks = append(toks, tok{brk: true, i: -1})
			}
			continue
		}
		if i > 0 && gap(p.Chars[i-1], c) != gapNone && len(toks) > 0 && !toks[len(toks)-1].brk {
			toks = append(toks, tok{brk: true, i: -1})
		}
		toks = append(toks, tok{r: c.Rune, i: i})
	}
	var pattern []tok
	for i, w := range want {
		if i > 0 {
			pattern = append(pattern, tok{brk: true})
		}
		for _, r := range w {
			pattern = append(pattern, tok{r: r})
		}
	}
	var out []Box
	for start := 0; start+len(pattern) <= len(toks); start++ {
		match := true
		for k, pt := range pattern {
			t := toks[start+k]
			if t.brk != pt.brk || (!pt.brk && t.r != pt.r) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		first := p.Chars[toks[start].i]
		box := first.Box
		for k := range pattern {
			t := toks[start+k]
			if t.brk {
				continue
			}
			c := p.Chars[t.i]
			if math.Abs(c.base-first.base) > first.Size*0.5 {
				break // the next line
			}
			box.XMin, box.XMax = math.Min(box.XMin, c.Box.XMin), math.Max(box.XMax, c.Box.XMax)
			box.YMin, box.YMax = math.Min(box.YMin, c.Box.YMin), math.Max(box.YMax, c.Box.YMax)
		}
		out = append(out, box)
		start += len(pattern) - 1
	}
	return out
}

// matrix is an affine transform [a b c d e f] (§8.3.3).
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n: first m, then n.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) apply(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y + m[4], m[1]*x + m[3]*y + m[5]
}

func (m matrix) invert() (matrix, bool) {
	det := m[0]*m[3] - m[1]*m[2]
	if det == 0 || math.IsNaN(det) {
		return matrix{}, false
	}
	a, b, c, d := m[3]/det, -m[1]/det, -m[2]/det, m[0]/det
	return matrix{a, b, c, d, -(m[4]*a + m[5]*c), -(m[4]*b + m[5]*d)}, true
}
