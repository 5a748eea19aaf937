package pdftext

import (
	"math"
	"strconv"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/vellum-sign/vellum/pkg/pdfsyntax"
)

// extractor holds what pages share: the file and its parsed fonts.
type extractor struct {
	xt    *model.XRefTable
	fonts map[types.IndirectRef]*font
	ops   int
}

// graphics is the part of the graphics and text state (§8.4, §9.3) that
// positions text.
type graphics struct {
	ctm                      matrix
	font                     *font
	size, tc, tw, th, tl, ts float64
}

// interp runs one content stream.
type interp struct {
	x      *extractor
	page   *Page
	res    types.Dict
	gs     graphics
	stack  []graphics
	tm     matrix
	tlm    matrix
	fontOf map[string]*font
}

// operand is a content stream operand: a number, a name, a string or an
// array of those.
type operand struct {
	kind byte // 'n' number, '/' name, 's' string, '[' array, 0 other
	num  float64
	str  string
	arr  []operand
}

// run interprets content; depth counts nested form XObjects.
func (in *interp) run(content []byte, depth int) {
	l := lexer{buf: content}
	var ops []operand
	for {
		if in.x.ops++; in.x.ops > maxOps {
			return
		}
		o, op, ok := l.next()
		if !ok {
			return
		}
		if op == "" {
			if len(ops) < 64 {
				ops = append(ops, o)
			}
			continue
		}
		in.do(op, ops, depth)
		ops = ops[:0]
	}
}

func nums(ops []operand, n int) ([]float64, bool) {
	if len(ops) < n {
		return nil, false
	}
	out := make([]float64, n)
	for i, o := range ops[len(ops)-n:] {
		if o.kind != 'n' {
			return nil, false
		}
		out[i] = o.num
	}
	return out, true
}

func (in *interp) do(op string, ops []operand, depth int) {
	g := &in.gs
	switch op {
	case "q":
		if len(in.stack) < 256 {
			in.stack = append(in.stack, *g)
		}
	case "Q":
		if n := len(in.stack); n > 0 {
			*g = in.stack[n-1]
			in.stack = in.stack[:n-1]
		}
	case "cm":
		if v, ok := nums(ops, 6); ok {
			g.ctm = matrix{v[0], v[1], v[2], v[3], v[4], v[5]}.mul(g.ctm)
		}
	case "BT":
		in.tm, in.tlm = identity, identity
	case "Tf":
		if len(ops) >= 2 && ops[len(ops)-2].kind == '/' && ops[len(ops)-1].kind == 'n' {
			g.font = in.font(ops[len(ops)-2].str)
			g.size = ops[len(ops)-1].num
		}
	case "Tc":
		if v, ok := nums(ops, 1); ok {
			g.tc = v[0]
		}
	case "Tw":
		if v, ok := nums(ops, 1); ok {
			g.tw = v[0]
		}
	case "Tz":
		if v, ok := nums(ops, 1); ok {
			g.th = v[0] / 100
		}
	case "TL":
		if v, ok := nums(ops, 1); ok {
			g.tl = v[0]
		}
	case "Ts":
		if v, ok := nums(ops, 1); ok {
			g.ts = v[0]
		}
	case "Td":
		if v, ok := nums(ops, 2); ok {
			in.tlm = matrix{1, 0, 0, 1, v[0], v[1]}.mul(in.tlm)
			in.tm = in.tlm
		}
	case "TD":
		if v, ok := nums(ops, 2); ok {
			g.tl = -v[1]
			in.tlm = matrix{1, 0, 0, 1, v[0], v[1]}.mul(in.tlm)
			in.tm = in.tlm
		}
	case "Tm":
		if v, ok := nums(ops, 6); ok {
			in.tlm = matrix{v[0], v[1], v[2], v[3], v[4], v[5]}
			in.tm = in.tlm
		}
	case "T*":
		in.nextLine()
	case "Tj":
		if len(ops) > 0 && ops[len(ops)-1].kind == 's' {
			in.show(ops[len(ops)-1].str)
		}
	case "'":
		in.nextLine()
		if len(ops) > 0 && ops[len(ops)-1].kind == 's' {
			in.show(ops[len(ops)-1].str)
		}
	case "\"":
		if v, ok := nums(ops[:max(0, len(ops)-1)], 2); ok {
			g.tw, g.tc = v[0], v[1]
		}
		in.nextLine()
		if len(ops) > 0 && ops[len(ops)-1].kind == 's' {
			in.show(ops[len(ops)-1].str)
		}
	case "TJ":
		if len(ops) == 0 || ops[len(ops)-1].kind != '[' {
			return
		}
		for _, e := range ops[len(ops)-1].arr {
			switch e.kind {
			case 's':
				in.show(e.str)
			case 'n':
				tx := -e.num / 1000 * g.size * g.th
				if g.font != nil && g.font.vertical {
					break
				}
				in.tm = matrix{1, 0, 0, 1, tx, 0}.mul(in.tm)
			}
		}
	case "Do":
		if len(ops) > 0 && ops[len(ops)-1].kind == '/' && depth < maxFormNest {
			in.form(ops[len(ops)-1].str, depth)
		}
	}
}

func (in *interp) nextLine() {
	in.tlm = matrix{1, 0, 0, 1, 0, -in.gs.tl}.mul(in.tlm)
	in.tm = in.tlm
}

// font returns the font resource named n.
func (in *interp) font(n string) *font {
	if f, ok := in.fontOf[n]; ok {
		return f
	}
	if in.fontOf == nil {
		in.fontOf = map[string]*font{}
	}
	fonts, _ := in.x.xt.DereferenceDict(in.res["Font"])
	var f *font
	if o, ok := fonts[n]; ok {
		if r, isRef := o.(types.IndirectRef); isRef {
			if cached, ok := in.x.fonts[r]; ok {
				f = cached
			} else {
				f = in.x.loadFont(o)
				in.x.fonts[r] = f
			}
		} else {
			f = in.x.loadFont(o)
		}
	}
	in.fontOf[n] = f
	return f
}

// show places the characters of a string (§9.4.4).
func (in *interp) show(s string) {
	g := &in.gs
	f := g.font
	if f == nil {
		f = fallbackFont
	}
	for _, c := range f.codes(s) {
		w0 := f.width(c.code)
		trm := matrix{g.size * g.th, 0, 0, g.size, 0, g.ts}.mul(in.tm).mul(g.ctm).mul(in.page.toDisplay)
		ox, oy := trm.apply(0, 0)
		// The advance, in display space, along the text direction.
		adv := w0 * f.scale
		ex, ey := trm.apply(adv, 0)
		// Font size as poppler measures it: the text space's y unit.
		fs := matrix{in.tm[0], in.tm[1], in.tm[2], in.tm[3], 0, 0}.mul(g.ctm)
		size := math.Hypot(fs[2]*g.size, fs[3]*g.size) * f.sizeFactor
		for _, r := range c.text {
			box, dir := charBox(ox, oy, ex, ey, size, f)
			in.page.Chars = append(in.page.Chars, Char{Rune: r, Box: box, Size: size, base: baseline(ox, oy, ex, ey), dir: dir})
		}
		tx := (w0*f.scale*g.size + g.tc) * g.th
		if c.single && c.code == 32 {
			tx += g.tw * g.th
		}
		in.tm = matrix{1, 0, 0, 1, tx, 0}.mul(in.tm)
		if len(in.page.Chars) > 1_000_000 {
			return
		}
	}
}

// charBox is a character's box in display space: from its origin to its
// advance along the text, from the ascent to the descent across it. Text
// running up, down or backwards gets the box of its rotated extent.
func charBox(ox, oy, ex, ey, size float64, f *font) (Box, int) {
	asc, desc := f.ascent*size, f.descent*size
	dx, dy := ex-ox, ey-oy
	switch {
	case math.Abs(dx) >= math.Abs(dy) && dx >= 0: // left to right
		return Box{ox, oy - asc, ex, oy - desc}, 0
	case math.Abs(dx) >= math.Abs(dy): // upside down
		return Box{ex, oy + desc, ox, oy + asc}, 2
	case dy >= 0: // top to bottom
		return Box{ox + desc, oy, ox + asc, ey}, 1
	default: // bottom to top
		return Box{ox - asc, ey, ox - desc, oy}, 3
	}
}

// baseline is the coordinate across the text direction, to tell lines
// apart.
func baseline(ox, oy, ex, ey float64) float64 {
	if math.Abs(ex-ox) >= math.Abs(ey-oy) {
		return oy
	}
	return ox
}

// form runs a form XObject with its own matrix and resources.
func (in *interp) form(n string, depth int) {
	xobjs, _ := in.x.xt.DereferenceDict(in.res["XObject"])
	sd, _, err := in.x.xt.DereferenceStreamDict(xobjs[n])
	if err != nil || sd == nil || sd.Dict.NameEntry("Subtype") == nil || *sd.Dict.NameEntry("Subtype") != "Form" {
		return
	}
	if err := sd.Decode(); err != nil {
		return
	}
	sub := &interp{x: in.x, page: in.page, res: in.res, gs: in.gs}
	if r, _ := in.x.xt.DereferenceDict(sd.Dict["Resources"]); r != nil {
		sub.res = r
	}
	if a, err := in.x.xt.DereferenceArray(sd.Dict["Matrix"]); err == nil && len(a) == 6 {
		var m matrix
		for i, e := range a {
			m[i], _ = in.x.num(e)
		}
		sub.gs.ctm = m.mul(in.gs.ctm)
	}
	sub.run(sd.Content, depth+1)
}

// lexer tokenizes content streams (§7.8.2): operands and operators; inline
// images are skipped.
type lexer struct {
	buf []byte
	pos int
}

func isWhite(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) skip() {
	for l.pos < len(l.buf) {
		c := l.buf[l.pos]
		if isWhite(c) {
			l.pos++
		} else if c == '%' {
			for l.pos < len(l.buf) && l.buf[l.pos] != '\n' && l.buf[l.pos] != '\r' {
				l.pos++
			}
		} else {
			return
		}
	}
}

// next returns an operand, or an operator name in op; ok is false at the end.
func (l *lexer) next() (operand, string, bool) {
	l.skip()
	if l.pos >= len(l.buf) {
		return operand{}, "", false
	}
	o, ok := l.operand(0)
	if ok {
		return o, "", true
	}
	start := l.pos
	for l.pos < len(l.buf) && !isWhite(l.buf[l.pos]) && !isDelim(l.buf[l.pos]) {
		l.pos++
	}
	if l.pos == start {
		l.pos++ // a stray delimiter
		return operand{}, "", true
	}
	op := string(l.buf[start:l.pos])
	if op == "BI" {
		l.skipInlineImage()
		return operand{}, "", true
	}
	return operand{}, op, true
}

// operand parses an operand at pos, reporting false (pos unchanged) when
// the token is an operator.
func (l *lexer) operand(depth int) (operand, bool) {
	l.skip()
	if l.pos >= len(l.buf) || depth > 16 {
		return operand{}, false
	}
	c := l.buf[l.pos]
	switch {
	case c == '(':
		return operand{kind: 's', str: l.literal()}, true
	case c == '<' && l.pos+1 < len(l.buf) && l.buf[l.pos+1] == '<':
		l.skipDict()
		return operand{}, true
	case c == '<':
		return operand{kind: 's', str: l.hex()}, true
	case c == '[':
		l.pos++
		var arr []operand
		for {
			l.skip()
			if l.pos >= len(l.buf) {
				return operand{kind: '[', arr: arr}, true
			}
			if l.buf[l.pos] == ']' {
				l.pos++
				return operand{kind: '[', arr: arr}, true
			}
			o, ok := l.operand(depth + 1)
			if !ok {
				// An operator inside an array: skip it.
				for l.pos < len(l.buf) && !isWhite(l.buf[l.pos]) && !isDelim(l.buf[l.pos]) {
					l.pos++
				}
				if l.pos < len(l.buf) && isDelim(l.buf[l.pos]) && l.buf[l.pos] != ']' && l.buf[l.pos] != '[' && l.buf[l.pos] != '(' && l.buf[l.pos] != '<' && l.buf[l.pos] != '/' {
					l.pos++
				}
				continue
			}
			if len(arr) < 1<<16 {
				arr = append(arr, o)
			}
		}
	case c == '/':
		l.pos++
		start := l.pos
		for l.pos < len(l.buf) && !isWhite(l.buf[l.pos]) && !isDelim(l.buf[l.pos]) {
			l.pos++
		}
		return operand{kind: '/', str: unescapeName(l.buf[start:l.pos])}, true
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		start := l.pos
		for l.pos < len(l.buf) && !isWhite(l.buf[l.pos]) && !isDelim(l.buf[l.pos]) {
			l.pos++
		}
		f, err := strconv.ParseFloat(string(l.buf[start:l.pos]), 64)
		if err != nil {
			f = 0 // malformed numbers read as 0, as readers do
		}
		return operand{kind: 'n', num: f}, true
	}
	start := l.pos
	for l.pos < len(l.buf) && !isWhite(l.buf[l.pos]) && !isDelim(l.buf[l.pos]) {
		l.pos++
	}
	switch string(l.buf[start:l.pos]) {
	case "true", "false", "null":
		return operand{}, true
	}
	l.pos = start
	return operand{}, false
}

func unescapeName(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

// literal reads a literal string (§7.3.4.2); an unclosed one ends the stream.
func (l *lexer) literal() string {
	out, next, _ := pdfsyntax.Literal(l.buf, l.pos+1)
	l.pos = next
	return string(out)
}

// hex reads a hexadecimal string, skipping bytes that are not digits.
func (l *lexer) hex() string {
	out, next, _, _ := pdfsyntax.Hex(l.buf, l.pos+1)
	l.pos = next
	return string(out)
}

// skipDict skips a dictionary operand (marked-content properties).
func (l *lexer) skipDict() {
	depth := 0
	for l.pos < len(l.buf) {
		switch {
		case l.buf[l.pos] == '(':
			l.literal()
			continue
		case l.pos+1 < len(l.buf) && l.buf[l.pos] == '<' && l.buf[l.pos+1] == '<':
			depth++
			l.pos += 2
			continue
		case l.pos+1 < len(l.buf) && l.buf[l.pos] == '>' && l.buf[l.pos+1] == '>':
			depth--
			l.pos += 2
			if depth == 0 {
				return
			}
			continue
		}
		l.pos++
	}
}

// skipInlineImage skips from after BI to after EI.
func (l *lexer) skipInlineImage() {
	for l.pos+2 < len(l.buf) {
		if l.buf[l.pos] == 'E' && l.buf[l.pos+1] == 'I' && (l.pos == 0 || isWhite(l.buf[l.pos-1])) &&
			(l.pos+2 >= len(l.buf) || isWhite(l.buf[l.pos+2])) {
			l.pos += 2
			return
		}
		l.pos++
	}
	l.pos = len(l.buf)
}
