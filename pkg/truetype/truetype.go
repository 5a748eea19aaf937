// Package truetype reads TrueType fonts (glyf outlines, in .ttf files or
// the fonts of a .ttc collection) and writes subsets of them: a smaller,
// self-contained font with only the glyphs some text needs, renumbered, with
// the composite glyphs' components, metrics, a rebuilt cmap and the hinting
// tables kept. That is what a PDF writer embeds (a CIDFontType2 program) and
// what a web page can serve with @font-face.
//
// Fonts may come from an operator's configuration, so every offset and
// count is checked against the data: a malformed font is an error, never a
// panic or an unbounded allocation.
package truetype

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// GlyphID is a glyph's index in a font.
type GlyphID uint16

// Errors a caller may want to tell apart.
var (
	// ErrCFF means the font has PostScript (CFF) outlines, which this
	// package does not subset.
	ErrCFF = errors.New("truetype: font has CFF (PostScript) outlines; a font with TrueType (glyf) outlines is needed")
	// ErrNotEmbeddable means the font's licence bits (OS/2 fsType) forbid
	// embedding or subsetting it in documents.
	ErrNotEmbeddable = errors.New("truetype: the font's licence (OS/2 fsType) does not allow embedding a subset of it")
)

// Limits on hostile input.
const (
	maxTables    = 256
	maxGlyphs    = 65535
	maxCmapRunes = 300000 // more code points than Unicode has assigned
)

// Font is a parsed TrueType font. It is immutable and safe for concurrent
// use.
type Font struct {
	tables map[string][]byte
	order  []string // tags as in the file, for stable output

	numGlyphs   int
	unitsPerEm  int
	longLoca    bool
	numHMetrics int
	advances    []uint16 // per glyph
	lsbs        []int16  // per glyph
	loca        []uint32 // numGlyphs+1 offsets into glyf
	cmap        map[rune]GlyphID

	metrics Metrics
}

// Metrics are the font-wide values a PDF font descriptor and a layout need,
// in font units (see UnitsPerEm).
type Metrics struct {
	PostScriptName string
	FamilyName     string
	UnitsPerEm     int
	Ascent         int // typographic ascender (positive)
	Descent        int // typographic descender (negative)
	LineGap        int
	CapHeight      int
	XHeight        int
	BBox           [4]int // xMin, yMin, xMax, yMax
	ItalicAngle    float64
	FixedPitch     bool
	Bold           bool
	Italic         bool
	Weight         int // OS/2 usWeightClass, 400 when absent
}

// Parse reads a TrueType font. For a collection (.ttc) it reads the first
// font; ParseCollection picks another.
func Parse(data []byte) (*Font, error) { return ParseCollection(data, 0) }

// ParseCollection reads font number index of a .ttc collection, or the font
// of a plain .ttf when index is 0.
func ParseCollection(data []byte, index int) (*Font, error) {
	if len(data) < 12 {
		return nil, errors.New("truetype: file too short")
	}
	off := 0
	switch string(data[:4]) {
	case "ttcf":
		n := int(u32(data, 8))
		if index < 0 || index >= n || 12+4*index+4 > len(data) {
			return nil, fmt.Errorf("truetype: collection has %d fonts, no font %d", n, index)
		}
		off = int(u32(data, 12+4*index))
	default:
		if index != 0 {
			return nil, fmt.Errorf("truetype: not a collection, no font %d", index)
		}
	}
	if off < 0 || off+12 > len(data) {
		return nil, errors.New("truetype: font offset out of range")
	}
	switch v := string(data[off : off+4]); v {
	case "\x00\x01\x00\x00", "true":
	case "OTTO":
		return nil, ErrCFF
	default:
		return nil, fmt.Errorf("truetype: not a TrueType font (version %q)", v)
	}
	n := int(u16(data, off+4))
	if n == 0 || n > maxTables || off+12+16*n > len(data) {
		return nil, fmt.Errorf("truetype: bad table count %d", n)
	}
	f := &Font{tables: map[string][]byte{}}
	for i := 0; i < n; i++ {
		rec := data[off+12+16*i:]
		tag := string(rec[:4])
		start, length := int64(u32(rec, 8)), int64(u32(rec, 12))
		if start+length > int64(len(data)) {
			return nil, fmt.Errorf("truetype: table %q extends past the end of the file", tag)
		}
		if _, dup := f.tables[tag]; dup {
			return nil, fmt.Errorf("truetype: table %q appears twice", tag)
		}
		f.tables[tag] = data[start : start+length]
		f.order = append(f.order, tag)
	}
	if f.tables["CFF "] != nil || f.tables["CFF2"] != nil {
		return nil, ErrCFF
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap"} {
		if f.tables[tag] == nil {
			return nil, fmt.Errorf("truetype: required table %q missing", tag)
		}
	}
	if err := f.parseHead(); err != nil {
		return nil, err
	}
	if err := f.parseMetrics(); err != nil {
		return nil, err
	}
	if err := f.parseLoca(); err != nil {
		return nil, err
	}
	if err := f.parseCmap(); err != nil {
		return nil, err
	}
	f.parseNames()
	return f, nil
}

func (f *Font) parseHead() error {
	head := f.tables["head"]
	if len(head) < 54 {
		return errors.New("truetype: head table too short")
	}
	if u32(head, 12) != 0x5F0F3CF5 {
		return errors.New("truetype: head table has a bad magic number")
	}
	f.unitsPerEm = int(u16(head, 18))
	if f.unitsPerEm < 16 || f.unitsPerEm > 16384 {
		return fmt.Errorf("truetype: unitsPerEm %d out of range", f.unitsPerEm)
	}
	f.longLoca = i16(head, 50) == 1
	m := &f.metrics
	m.UnitsPerEm = f.unitsPerEm
	m.BBox = [4]int{int(i16(head, 36)), int(i16(head, 38)), int(i16(head, 40)), int(i16(head, 42))}
	style := u16(head, 44)
	m.Bold, m.Italic = style&1 != 0, style&2 != 0

	maxp := f.tables["maxp"]
	if len(maxp) < 6 {
		return errors.New("truetype: maxp table too short")
	}
	f.numGlyphs = int(u16(maxp, 4))
	if f.numGlyphs == 0 {
		return errors.New("truetype: font has no glyphs")
	}
	return nil
}

func (f *Font) parseMetrics() error {
	hhea := f.tables["hhea"]
	if len(hhea) < 36 {
		return errors.New("truetype: hhea table too short")
	}
	m := &f.metrics
	m.Ascent, m.Descent, m.LineGap = int(i16(hhea, 4)), int(i16(hhea, 6)), int(i16(hhea, 8))
	f.numHMetrics = int(u16(hhea, 34))
	if f.numHMetrics < 1 || f.numHMetrics > f.numGlyphs {
		return fmt.Errorf("truetype: numberOfHMetrics %d with %d glyphs", f.numHMetrics, f.numGlyphs)
	}
	hmtx := f.tables["hmtx"]
	if len(hmtx) < 4*f.numHMetrics {
		return errors.New("truetype: hmtx table too short")
	}
	f.advances = make([]uint16, f.numGlyphs)
	f.lsbs = make([]int16, f.numGlyphs)
	for g := 0; g < f.numGlyphs; g++ {
		switch {
		case g < f.numHMetrics:
			f.advances[g], f.lsbs[g] = u16(hmtx, 4*g), i16(hmtx, 4*g+2)
		default:
			f.advances[g] = f.advances[f.numHMetrics-1]
			// Some fonts cut the trailing lsb array short; zero is harmless.
			if p := 4*f.numHMetrics + 2*(g-f.numHMetrics); p+2 <= len(hmtx) {
				f.lsbs[g] = i16(hmtx, p)
			}
		}
	}
	if os2 := f.tables["OS/2"]; len(os2) >= 78 {
		// Typographic metrics are what layout should use when present.
		if asc, desc := int(i16(os2, 68)), int(i16(os2, 70)); asc > 0 && desc <= 0 {
			m.Ascent, m.Descent, m.LineGap = asc, desc, int(i16(os2, 72))
		}
		m.Weight = int(u16(os2, 4))
		if len(os2) >= 90 && u16(os2, 0) >= 2 {
			m.XHeight, m.CapHeight = int(i16(os2, 86)), int(i16(os2, 88))
		}
		if sel := u16(os2, 62); sel&0x20 != 0 {
			m.Bold = true
		} else if sel&1 != 0 {
			m.Italic = true
		}
	}
	if m.Weight == 0 {
		m.Weight = 400
		if m.Bold {
			m.Weight = 700
		}
	}
	if m.CapHeight == 0 {
		m.CapHeight = m.Ascent * 7 / 10
	}
	if post := f.tables["post"]; len(post) >= 16 {
		m.ItalicAngle = float64(int32(u32(post, 4))) / 65536
		m.FixedPitch = u32(post, 12) != 0
	}
	return nil
}

func (f *Font) parseLoca() error {
	loca, glyfLen := f.tables["loca"], uint32(len(f.tables["glyf"]))
	n := f.numGlyphs + 1
	f.loca = make([]uint32, n)
	for i := 0; i < n; i++ {
		var o uint32
		if f.longLoca {
			if 4*i+4 > len(loca) {
				return errors.New("truetype: loca table too short")
			}
			o = u32(loca, 4*i)
		} else {
			if 2*i+2 > len(loca) {
				return errors.New("truetype: loca table too short")
			}
			o = 2 * uint32(u16(loca, 2*i))
		}
		if o > glyfLen || (i > 0 && o < f.loca[i-1]) {
			return fmt.Errorf("truetype: loca entry %d (%d) out of order or past glyf (%d bytes)", i, o, glyfLen)
		}
		f.loca[i] = o
	}
	return nil
}

// parseNames reads the PostScript and family names (name IDs 6 and 1).
func (f *Font) parseNames() {
	name := f.tables["name"]
	if len(name) < 6 {
		return
	}
	count, strOff := int(u16(name, 2)), int(u16(name, 4))
	get := func(id uint16) string {
		best, bestScore := "", 0
		for i := 0; i < count && 6+12*i+12 <= len(name); i++ {
			rec := name[6+12*i:]
			platform, enc, nameID := u16(rec, 0), u16(rec, 2), u16(rec, 6)
			length, off := int(u16(rec, 8)), int(u16(rec, 10))
			if nameID != id || strOff+off+length > len(name) {
				continue
			}
			raw := name[strOff+off : strOff+off+length]
			var s string
			score := 0
			switch {
			case platform == 3 && (enc == 1 || enc == 10), platform == 0:
				s, score = utf16BE(raw), 2
			case platform == 1 && enc == 0:
				s, score = string(raw), 1 // ASCII in practice for these IDs
			}
			if score > bestScore && s != "" {
				best, bestScore = s, score
			}
		}
		return best
	}
	f.metrics.FamilyName = get(1)
	f.metrics.PostScriptName = psName(get(6))
}

// psName keeps the characters a PDF /BaseFont name may carry unescaped.
func psName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 32 && r < 127 && !strings.ContainsRune("[](){}<>/%#", r) {
			b.WriteRune(r)
		}
	}
	if b.Len() > 63 {
		return b.String()[:63]
	}
	return b.String()
}

func utf16BE(b []byte) string {
	r := make([]rune, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		r = append(r, rune(u16(b, i)))
	}
	return string(r)
}

// NumGlyphs is the number of glyphs in the font.
func (f *Font) NumGlyphs() int { return f.numGlyphs }

// UnitsPerEm is the size of the em square in font units.
func (f *Font) UnitsPerEm() int { return f.unitsPerEm }

// Metrics returns the font-wide metrics.
func (f *Font) Metrics() Metrics { return f.metrics }

// GlyphIndex returns the glyph the font's cmap maps r to; 0 (.notdef) and
// false when the font has no glyph for r.
func (f *Font) GlyphIndex(r rune) (GlyphID, bool) {
	g, ok := f.cmap[r]
	return g, ok
}

// Advance returns the advance width of glyph g in font units.
func (f *Font) Advance(g GlyphID) int {
	if int(g) >= len(f.advances) {
		return 0
	}
	return int(f.advances[g])
}

// Runes returns every character the font's cmap maps, in no particular
// order.
func (f *Font) Runes() []rune {
	out := make([]rune, 0, len(f.cmap))
	for r := range f.cmap {
		out = append(out, r)
	}
	return out
}

// Embeddable reports whether the font's OS/2 fsType allows embedding a
// subset in a document: installable, editable or preview & print embedding,
// without the no-subsetting or bitmap-only bits.
func (f *Font) Embeddable() error {
	os2 := f.tables["OS/2"]
	if len(os2) < 10 {
		return nil
	}
	fsType := u16(os2, 8)
	if fsType&0x000F == 0x0002 || fsType&0x0100 != 0 || fsType&0x0200 != 0 {
		return ErrNotEmbeddable
	}
	return nil
}

// glyph returns glyph g's data in glyf (empty for a glyph with no outline).
func (f *Font) glyph(g GlyphID) []byte {
	if int(g)+1 >= len(f.loca) {
		return nil
	}
	return f.tables["glyf"][f.loca[g]:f.loca[g+1]]
}

func u16(b []byte, i int) uint16 { return binary.BigEndian.Uint16(b[i:]) }
func i16(b []byte, i int) int16  { return int16(binary.BigEndian.Uint16(b[i:])) }
func u32(b []byte, i int) uint32 { return binary.BigEndian.Uint32(b[i:]) }
