package pdftext

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	corefont "github.com/pdfcpu/pdfcpu/pkg/font"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// font is what positioning and decoding need of a font (§9.6, §9.7).
type font struct {
	cid      bool // Type0: codes per its CMap (2 bytes for Identity)
	vertical bool
	// codeLens are the CMap's code space ranges by byte length (Type0).
	ranges []codeRange
	// scale maps glyph space to text space: 1/1000, or a Type3 FontMatrix.
	scale           float64
	widths          map[uint32]float64
	dw              float64 // default width
	ascent, descent float64 // fractions of the font size
	toUnicode       map[uint32]string
	enc             [256]rune // simple fonts without /ToUnicode
	base            string    // standard 14 name, for metrics
	// sizeFactor corrects the size of Type3 fonts, whose glyph space is
	// unknown without rendering: poppler guesses from the width of 'm'.
	sizeFactor float64
}

type codeRange struct {
	n      int
	lo, hi uint32
}

// fallbackFont stands for text shown without a usable font.
var fallbackFont = &font{scale: 0.001, dw: 500, ascent: 0.95, descent: -0.35, enc: winAnsi(), sizeFactor: 1}

// code is one character code of a string with the text it stands for.
type code struct {
	code   uint32
	single bool // a one-byte code: word spacing applies to 32
	text   string
}

// codes splits s into character codes.
func (f *font) codes(s string) []code {
	var out []code
	if !f.cid {
		for i := 0; i < len(s); i++ {
			c := uint32(s[i])
			out = append(out, code{code: c, single: true, text: f.unicode(c)})
		}
		return out
	}
	for i := 0; i < len(s); {
		n := 2
		if len(f.ranges) > 0 {
			n = 0
			for k := 1; k <= 4 && i+k <= len(s) && n == 0; k++ {
				var v uint32
				for _, b := range []byte(s[i : i+k]) {
					v = v<<8 | uint32(b)
				}
				for _, r := range f.ranges {
					if r.n == k && v >= r.lo && v <= r.hi {
						n = k
						break
					}
				}
			}
			if n == 0 {
				n = 1
			}
		}
		if i+n > len(s) {
			n = len(s) - i
		}
		var v uint32
		for _, b := range []byte(s[i : i+n]) {
			v = v<<8 | uint32(b)
		}
		out = append(out, code{code: v, single: n == 1, text: f.unicode(v)})
		i += n
	}
	return out
}

func (f *font) unicode(c uint32) string {
	if t, ok := f.toUnicode[c]; ok {
		return t
	}
	if f.cid || c > 255 {
		return "\uFFFD"
	}
	if r := f.enc[c]; r != 0 {
		return string(r)
	}
	return "\uFFFD"
}

func (f *font) width(c uint32) float64 {
	if w, ok := f.widths[c]; ok {
		return w
	}
	if f.base != "" && !f.cid && c < 256 {
		if r := f.enc[c]; r != 0 {
			if w, err := corefont.CharWidth(f.base, rune(winAnsiCode(r))); err == nil {
				return float64(w)
			}
		}
	}
	return f.dw
}

// Standard 14 fonts' ascender and descender (their AFM files), which
// readers use when a font has no descriptor.
var standardMetrics = map[string][2]float64{
	"Courier": {629, -157}, "Courier-Bold": {629, -157}, "Courier-Oblique": {629, -157}, "Courier-BoldOblique": {629, -157},
	"Helvetica": {718, -207}, "Helvetica-Bold": {718, -207}, "Helvetica-Oblique": {718, -207}, "Helvetica-BoldOblique": {718, -207},
	"Times-Roman": {683, -217}, "Times-Bold": {683, -217}, "Times-Italic": {683, -217}, "Times-BoldItalic": {683, -217},
	"Symbol": {1010, -293}, "ZapfDingbats": {820, -143},
}

// standardAlias maps common aliases of the standard fonts (§9.6.2.2).
var standardAlias = map[string]string{
	"Arial": "Helvetica", "Arial,Bold": "Helvetica-Bold", "Arial,Italic": "Helvetica-Oblique", "Arial,BoldItalic": "Helvetica-BoldOblique",
	"ArialMT": "Helvetica", "Arial-BoldMT": "Helvetica-Bold", "TimesNewRoman": "Times-Roman", "TimesNewRomanPSMT": "Times-Roman",
	"TimesNewRoman,Bold": "Times-Bold", "CourierNew": "Courier", "CourierNewPSMT": "Courier",
}

// loadFont reads a font dictionary; a broken one yields a font that still
// positions text by defaults.
func (x *extractor) loadFont(o types.Object) *font {
	d, err := x.xt.DereferenceDict(o)
	if err != nil || d == nil {
		return fallbackFont
	}
	f := &font{scale: 0.001, ascent: 0.95, descent: -0.35, widths: map[uint32]float64{}, sizeFactor: 1}
	subtype := x.name(d["Subtype"])
	base := x.name(d["BaseFont"])
	if i := strings.IndexByte(base, '+'); i == 6 {
		base = base[i+1:]
	}
	fd := d
	if subtype == "Type0" {
		f.cid = true
		f.dw = 1000
		desc, _ := x.xt.DereferenceArray(d["DescendantFonts"])
		if len(desc) > 0 {
			if dd, _ := x.xt.DereferenceDict(desc[0]); dd != nil {
				fd = dd
				if v, ok := x.num(dd["DW"]); ok {
					f.dw = v
				}
				x.cidWidths(f, dd["W"])
			}
		}
		switch enc := d["Encoding"].(type) {
		case types.Name:
			f.vertical = strings.HasSuffix(string(enc), "-V")
		default:
			if sd, _, err := x.xt.DereferenceStreamDict(enc); err == nil && sd != nil && sd.Decode() == nil {
				f.ranges = parseCodespace(sd.Content)
			}
		}
	} else {
		if m, ok := standardMetrics[base]; ok {
			f.base = base
			f.ascent, f.descent = m[0]/1000, m[1]/1000
		} else if a, ok := standardAlias[base]; ok && d["FontDescriptor"] == nil {
			f.base = a
			m := standardMetrics[a]
			f.ascent, f.descent = m[0]/1000, m[1]/1000
		}
		first, _ := x.num(d["FirstChar"])
		ws, _ := x.xt.DereferenceArray(d["Widths"])
		for i, w := range ws {
			if v, ok := x.num(w); ok && i < 256 {
				f.widths[uint32(int(first)+i)] = v
			}
		}
		f.enc = x.encoding(d, subtype, base)
		if subtype == "Type3" {
			fm3 := 0.001
			if fm, _ := x.xt.DereferenceArray(d["FontMatrix"]); len(fm) == 6 {
				f.scale, _ = x.num(fm[0])
				fm3, _ = x.num(fm[3])
			}
			f.sizeFactor = type3SizeFactor(f, fm3)
		}
	}
	if desc, _ := x.xt.DereferenceDict(fd["FontDescriptor"]); desc != nil {
		if v, ok := x.num(desc["Ascent"]); ok {
			if v < 0 {
				v = -v
			}
			if v != 0 && v < 3000 {
				f.ascent = v / 1000
			}
		}
		if v, ok := x.num(desc["Descent"]); ok {
			if v > 0 {
				v = -v
			}
			if v != 0 && v > -3000 {
				f.descent = v / 1000
			}
		}
		if v, ok := x.num(desc["MissingWidth"]); ok && !f.cid {
			f.dw = v
		}
	}
	if sd, _, err := x.xt.DereferenceStreamDict(d["ToUnicode"]); err == nil && sd != nil && sd.Decode() == nil {
		f.toUnicode = parseToUnicode(sd.Content)
		if f.cid && len(f.ranges) == 0 {
			f.ranges = nil // Identity: two bytes
		}
	}
	return f
}

// type3SizeFactor is poppler's guess at a Type3 font's real size: the
// width of 'm' against a generic 0.6, else of a letter or any glyph
// against 0.5, times the font matrix's aspect.
func type3SizeFactor(f *font, fm3 float64) float64 {
	m, letter, anyCode := -1, -1, -1
	for c := 0; c < 256; c++ {
		r := f.enc[c]
		if r == 'm' {
			m = c
		}
		if letter < 0 && (r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			letter = c
		}
		if anyCode < 0 && f.widths[uint32(c)] > 0 {
			anyCode = c
		}
	}
	factor := 1.0
	w := func(c int) float64 { return f.widths[uint32(c)] * f.scale }
	switch {
	case m >= 0 && w(m) > 0:
		factor = w(m) / 0.6
	case letter >= 0 && w(letter) > 0:
		factor = w(letter) / 0.5
	case anyCode >= 0 && w(anyCode) > 0:
		factor = w(anyCode) / 0.5
	}
	if f.scale != 0 {
		factor *= math.Abs(fm3 / f.scale)
	}
	return factor
}

// cidWidths reads a CIDFont's /W array (§9.7.4.3). Identity encodings make
// codes equal CIDs, which is what this reader assumes.
func (x *extractor) cidWidths(f *font, o types.Object) {
	w, _ := x.xt.DereferenceArray(o)
	for i := 0; i < len(w) && len(f.widths) < 1<<17; {
		first, ok := x.num(w[i])
		if !ok || i+1 >= len(w) {
			return
		}
		if arr, _ := x.xt.DereferenceArray(w[i+1]); arr != nil {
			for k, e := range arr {
				if v, ok := x.num(e); ok {
					f.widths[uint32(int(first)+k)] = v
				}
			}
			i += 2
			continue
		}
		last, ok1 := x.num(w[i+1])
		if i+2 >= len(w) {
			return
		}
		v, ok2 := x.num(w[i+2])
		if !ok1 || !ok2 || last < first || last-first > 1<<16 {
			return
		}
		for c := int(first); c <= int(last); c++ {
			f.widths[uint32(c)] = v
		}
		i += 3
	}
}

// encoding builds a simple font's code-to-Unicode table: its base encoding
// and /Differences.
func (x *extractor) encoding(d types.Dict, subtype, base string) [256]rune {
	var enc [256]rune
	baseName := ""
	var diffs types.Array
	switch e := d["Encoding"].(type) {
	case types.Name:
		baseName = string(e)
	default:
		if ed, _ := x.xt.DereferenceDict(e); ed != nil {
			baseName = x.name(ed["BaseEncoding"])
			diffs, _ = x.xt.DereferenceArray(ed["Differences"])
		}
	}
	switch {
	case baseName == "MacRomanEncoding":
		for i := 0; i < 256; i++ {
			enc[i] = charmap.Macintosh.DecodeByte(byte(i))
		}
	case baseName == "WinAnsiEncoding" || subtype == "TrueType" || (baseName == "" && base != "Symbol" && base != "ZapfDingbats" && subtype != "Type1"):
		enc = winAnsi()
	default:
		enc = standardEncoding()
	}
	code := 0
	for _, e := range diffs {
		switch v := e.(type) {
		case types.Integer:
			code = int(v)
		case types.Float:
			code = int(v)
		case types.Name:
			if code >= 0 && code < 256 {
				enc[code] = glyphRune(string(v))
			}
			code++
		}
	}
	return enc
}

func winAnsi() [256]rune {
	var enc [256]rune
	for i := 32; i < 256; i++ {
		enc[i] = charmap.Windows1252.DecodeByte(byte(i))
	}
	return enc
}

// standardEncoding is Adobe's StandardEncoding (§D.2): ASCII but for the
// quotes, and the upper half by glyph name.
func standardEncoding() [256]rune {
	var enc [256]rune
	for i := 32; i < 127; i++ {
		enc[i] = rune(i)
	}
	enc[0x27], enc[0x60] = '’', '‘'
	upper := map[int]rune{0xa1: '¡', 0xa2: '¢', 0xa3: '£', 0xa4: '⁄', 0xa5: '¥', 0xa6: 'ƒ', 0xa7: '§', 0xa8: '¤', 0xa9: '\'',
		0xaa: '“', 0xab: '«', 0xac: '‹', 0xad: '›', 0xae: 'ﬁ', 0xaf: 'ﬂ', 0xb1: '–', 0xb2: '†', 0xb3: '‡', 0xb4: '·',
		0xb6: '¶', 0xb7: '•', 0xb8: '‚', 0xb9: '„', 0xba: '”', 0xbb: '»', 0xbc: '…', 0xbd: '‰', 0xbf: '¿', 0xc1: '`',
		0xc2: '´', 0xc3: 'ˆ', 0xc4: '˜', 0xc5: '¯', 0xc6: '˘', 0xc7: '˙', 0xc8: '¨', 0xca: '˚', 0xcb: '¸', 0xcd: '˝',
		0xce: '˛', 0xcf: 'ˇ', 0xd0: '—', 0xe1: 'Æ', 0xe3: 'ª', 0xe8: 'Ł', 0xe9: 'Ø', 0xea: 'Œ', 0xeb: 'º', 0xf1: 'æ',
		0xf5: 'ı', 0xf8: 'ł', 0xf9: 'ø', 0xfa: 'œ', 0xfb: 'ß'}
	for c, r := range upper {
		enc[c] = r
	}
	return enc
}

// winAnsiCode is r's WinAnsi code (for the standard fonts' metrics), 0
// when it has none.
func winAnsiCode(r rune) int {
	if r < 128 {
		return int(r)
	}
	if b, ok := charmap.Windows1252.EncodeRune(r); ok {
		return int(b)
	}
	return 0
}

// glyphNames are the glyph names of the Adobe Glyph List that are not a
// letter, a uniXXXX or a base letter with an accent.
var glyphNames = map[string]rune{
	"space": ' ', "exclam": '!', "quotedbl": '"', "numbersign": '#', "dollar": '$', "percent": '%', "ampersand": '&',
	"quotesingle": '\'', "quoteright": '’', "parenleft": '(', "parenright": ')', "asterisk": '*', "plus": '+', "comma": ',',
	"hyphen": '-', "period": '.', "slash": '/', "zero": '0', "one": '1', "two": '2', "three": '3', "four": '4', "five": '5',
	"six": '6', "seven": '7', "eight": '8', "nine": '9', "colon": ':', "semicolon": ';', "less": '<', "equal": '=',
	"greater": '>', "question": '?', "at": '@', "bracketleft": '[', "backslash": '\\', "bracketright": ']',
	"asciicircum": '^', "underscore": '_', "grave": '`', "quoteleft": '‘', "braceleft": '{', "bar": '|', "braceright": '}',
	"asciitilde": '~', "endash": '–', "emdash": '—', "bullet": '•', "quotedblleft": '“', "quotedblright": '”',
	"quotesinglbase": '‚', "quotedblbase": '„', "ellipsis": '…', "dagger": '†', "daggerdbl": '‡', "perthousand": '‰',
	"guilsinglleft": '‹', "guilsinglright": '›', "guillemotleft": '«', "guillemotright": '»', "fi": 'ﬁ', "fl": 'ﬂ',
	"Euro": '€', "trademark": '™', "copyright": '©', "registered": '®', "degree": '°', "section": '§', "paragraph": '¶',
	"sterling": '£', "yen": '¥', "cent": '¢', "currency": '¤', "germandbls": 'ß', "ae": 'æ', "AE": 'Æ', "oe": 'œ', "OE": 'Œ',
	"oslash": 'ø', "Oslash": 'Ø', "lslash": 'ł', "Lslash": 'Ł', "dotlessi": 'ı', "nbspace": '\u00a0', "periodcentered": '·',
	"minus": '−', "multiply": '×', "divide": '÷', "plusminus": '±', "logicalnot": '¬', "mu": 'µ', "onehalf": '½',
	"onequarter": '¼', "threequarters": '¾', "exclamdown": '¡', "questiondown": '¿', "ordfeminine": 'ª', "ordmasculine": 'º',
	"florin": 'ƒ', "brokenbar": '¦', "dieresis": '¨', "macron": '¯', "acute": '´', "cedilla": '¸', "circumflex": 'ˆ',
	"tilde": '˜', "caron": 'ˇ', "ring": '˚', "eth": 'ð', "Eth": 'Ð', "thorn": 'þ', "Thorn": 'Þ', "sfthyphen": '\u00ad',
}

var accents = map[string]rune{"acute": '\u0301', "grave": '\u0300', "circumflex": '\u0302', "dieresis": '\u0308',
	"tilde": '\u0303', "ring": '\u030a', "cedilla": '\u0327', "caron": '\u030c', "breve": '\u0306', "macron": '\u0304',
	"ogonek": '\u0328', "dotaccent": '\u0307', "hungarumlaut": '\u030b'}

// glyphRune maps a glyph name to its character (Adobe Glyph List rules
// for uniXXXX and uXXXX[XX], the common names, base letter plus accent).
func glyphRune(n string) rune {
	if i := strings.IndexByte(n, '.'); i > 0 {
		n = n[:i] // "a.sc", "one.oldstyle"
	}
	if len(n) == 1 {
		return rune(n[0])
	}
	if r, ok := glyphNames[n]; ok {
		return r
	}
	for _, p := range []string{"uni", "u"} {
		if strings.HasPrefix(n, p) && len(n) >= len(p)+4 && len(n) <= len(p)+6 {
			if v, err := strconv.ParseUint(n[len(p):len(p)+4], 16, 32); err == nil && p == "uni" {
				return rune(v)
			}
			if v, err := strconv.ParseUint(n[len(p):], 16, 32); err == nil {
				return rune(v)
			}
		}
	}
	if len(n) > 1 {
		if a, ok := accents[n[1:]]; ok {
			if s := norm.NFC.String(string(rune(n[0])) + string(a)); len([]rune(s)) == 1 {
				return []rune(s)[0]
			}
		}
	}
	return 0
}

// parseToUnicode reads a ToUnicode CMap's bfchar and bfrange entries
// (§9.10.3); destinations are UTF-16BE.
func parseToUnicode(b []byte) map[uint32]string {
	out := map[uint32]string{}
	l := lexer{buf: b}
	var ops []operand
	for steps := 0; steps < 1<<20; steps++ {
		o, op, ok := l.next()
		if !ok {
			break
		}
		if op == "" {
			ops = append(ops, o)
			continue
		}
		switch op {
		case "endbfchar":
			for i := 0; i+1 < len(ops); i += 2 {
				if ops[i].kind == 's' && ops[i+1].kind == 's' {
					out[codeOf(ops[i].str)] = utf16String(ops[i+1].str)
				} else if ops[i].kind == 's' && ops[i+1].kind == '/' {
					if r := glyphRune(ops[i+1].str); r != 0 {
						out[codeOf(ops[i].str)] = string(r)
					}
				}
			}
		case "endbfrange":
			for i := 0; i+2 < len(ops); i += 3 {
				if ops[i].kind != 's' || ops[i+1].kind != 's' {
					continue
				}
				lo, hi := codeOf(ops[i].str), codeOf(ops[i+1].str)
				if hi < lo || hi-lo > 1<<16 {
					continue
				}
				switch dst := ops[i+2]; dst.kind {
				case 's':
					u := utf16.Decode(utf16Units(dst.str))
					for c := lo; c <= hi; c++ {
						if len(u) == 0 {
							break
						}
						v := append([]rune{}, u...)
						v[len(v)-1] += rune(c - lo)
						out[c] = string(v)
					}
				case '[':
					for k, e := range dst.arr {
						if e.kind == 's' && lo+uint32(k) <= hi {
							out[lo+uint32(k)] = utf16String(e.str)
						}
					}
				}
			}
		}
		ops = ops[:0]
	}
	return out
}

// parseCodespace reads a CMap's codespace ranges.
func parseCodespace(b []byte) []codeRange {
	i := bytes.Index(b, []byte("begincodespacerange"))
	j := bytes.Index(b, []byte("endcodespacerange"))
	if i < 0 || j < i {
		return nil
	}
	l := lexer{buf: b[i+len("begincodespacerange") : j]}
	var out []codeRange
	var pend []string
	for {
		o, _, ok := l.next()
		if !ok {
			break
		}
		if o.kind == 's' {
			pend = append(pend, o.str)
		}
		if len(pend) == 2 {
			if len(pend[0]) == len(pend[1]) && len(pend[0]) >= 1 && len(pend[0]) <= 4 {
				out = append(out, codeRange{n: len(pend[0]), lo: codeOf(pend[0]), hi: codeOf(pend[1])})
			}
			pend = pend[:0]
		}
	}
	return out
}

func codeOf(s string) uint32 {
	var v uint32
	for i := 0; i < len(s) && i < 4; i++ {
		v = v<<8 | uint32(s[i])
	}
	return v
}

func utf16Units(s string) []uint16 {
	u := make([]uint16, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		u = append(u, uint16(s[i])<<8|uint16(s[i+1]))
	}
	return u
}

func utf16String(s string) string {
	if len(s) == 1 {
		return s
	}
	return string(utf16.Decode(utf16Units(s)))
}

// Helpers reading pdfcpu objects.

func (x *extractor) num(o types.Object) (float64, bool) {
	o, err := x.xt.Dereference(o)
	if err != nil {
		return 0, false
	}
	switch v := o.(type) {
	case types.Integer:
		return float64(v), true
	case types.Float:
		return float64(v), true
	}
	return 0, false
}

func (x *extractor) name(o types.Object) string {
	o, err := x.xt.Dereference(o)
	if err != nil {
		return ""
	}
	n, _ := o.(types.Name)
	return string(n)
}

func (x *extractor) rect(a types.Array) *types.Rectangle {
	var v [4]float64
	for i, e := range a {
		f, ok := x.num(e)
		if !ok {
			return nil
		}
		v[i] = f
	}
	return types.NewRectangle(min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3]))
}
