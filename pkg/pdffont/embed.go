package pdffont

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
)

// AddObject adds an indirect object to the PDF file being written and
// returns its object number (generation 0). body is the object's complete
// body: a dictionary, or a dictionary followed by its stream.
type AddObject func(body []byte) int

// Resource is a font to list in a /Font resource dictionary.
type Resource struct {
	Name   string // e.g. "F1", without the slash
	Object int    // the Type 0 font's object number
}

// Embedder collects, for one PDF file, the glyphs its text uses font by
// font, and writes the fonts into the file at the end. It is not safe for
// concurrent use.
type Embedder struct {
	faces  []*face
	byFont map[*Font]*face
}

// NewEmbedder returns an Embedder with no fonts used yet.
func NewEmbedder() *Embedder { return &Embedder{byFont: map[*Font]*face{}} }

// face is one font as used in the file. Character codes (CIDs) are given
// out in order of first use, one per distinct cluster of text, so the
// ToUnicode map gives back exactly the text that was drawn even where two
// characters share a glyph.
type face struct {
	font *Font
	res  string
	cids map[string]uint16
	used []cluster // used[cid-1]
}

func (e *Embedder) face(f *Font) *face {
	if fc := e.byFont[f]; fc != nil {
		return fc
	}
	fc := &face{font: f, res: "F" + strconv.Itoa(len(e.faces)+1), cids: map[string]uint16{}}
	e.faces = append(e.faces, fc)
	e.byFont[f] = fc
	return fc
}

func (fc *face) cid(c cluster) (uint16, error) {
	key := c.text
	if c.width == 0 && c.lookup == ' ' {
		key = "\x00" + key // an invisible character, kept apart from a visible one
	}
	if id, ok := fc.cids[key]; ok {
		return id, nil
	}
	if len(fc.used) >= 0xFFFE {
		return 0, fmt.Errorf("pdffont: more than %d distinct characters in %s", 0xFFFE, fc.font.name)
	}
	fc.used = append(fc.used, c)
	id := uint16(len(fc.used))
	fc.cids[key] = id
	return id, nil
}

// Show appends to content the operators that draw text at size points in
// the fonts of s, starting at the current text position: "/F1 10 Tf <…> Tj"
// for each run of text in one font. content must be inside BT … ET.
func (e *Embedder) Show(content []byte, s Stack, text string, size float64) ([]byte, error) {
	cs, err := s.clusters(text)
	if err != nil {
		return content, err
	}
	var cur *face
	open := false
	for _, c := range cs {
		fc := e.face(c.font)
		if fc != cur {
			if open {
				content = append(content, "> Tj "...)
			}
			content = append(content, '/')
			content = append(content, fc.res...)
			content = append(content, ' ')
			content = appendNum(content, size)
			content = append(content, " Tf <"...)
			cur, open = fc, true
		}
		id, err := fc.cid(c)
		if err != nil {
			return content, err
		}
		content = fmt.Appendf(content, "%04X", id)
	}
	if open {
		content = append(content, "> Tj"...)
	}
	return content, nil
}

// Write adds the fonts used so far to the file and returns the entries of
// the /Font resource dictionary that names them. Fonts nothing was drawn in
// are left out.
func (e *Embedder) Write(add AddObject) ([]Resource, error) {
	var out []Resource
	for _, fc := range e.faces {
		if len(fc.used) == 0 {
			continue
		}
		n, err := fc.write(add)
		if err != nil {
			return nil, err
		}
		out = append(out, Resource{Name: fc.res, Object: n})
	}
	return out, nil
}

func (fc *face) write(add AddObject) (int, error) {
	f := fc.font
	lookups := make([]rune, 0, len(fc.used))
	for _, c := range fc.used {
		lookups = append(lookups, c.lookup)
	}
	sub, err := f.tt.Subset(lookups)
	if err != nil {
		return 0, fmt.Errorf("pdffont: subset %s: %w", f.name, err)
	}
	// A subset's name carries a tag of six capitals (ISO 32000 §9.9.2).
	sum := sha256.Sum256(sub.Font)
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + sum[i]%26
	}
	base := string(tag) + "+" + f.name

	fontFile := add(stream(fmt.Sprintf("/Length1 %d", len(sub.Font)), sub.Font))
	m := f.tt.Metrics()
	flags := 4 // symbolic: glyphs beyond the standard Latin set
	if m.FixedPitch {
		flags |= 1
	}
	if m.Italic || m.ItalicAngle != 0 {
		flags |= 64
	}
	u := func(v int) string { return num(f.units(v)) }
	stemV := 10 + 220*float64(max(m.Weight-50, 0))/900
	desc := add(fmt.Appendf(nil, "<< /Type /FontDescriptor /FontName /%s /Flags %d /FontBBox [%s %s %s %s] /ItalicAngle %s"+
		" /Ascent %s /Descent %s /CapHeight %s /StemV %s /FontFile2 %d 0 R >>",
		base, flags, u(m.BBox[0]), u(m.BBox[1]), u(m.BBox[2]), u(m.BBox[3]), num(m.ItalicAngle),
		u(m.Ascent), u(m.Descent), u(m.CapHeight), num(math.Round(stemV)), fontFile))

	gidMap := make([]byte, 2*(len(fc.used)+1))
	var w bytes.Buffer
	w.WriteString("[1 [")
	for i, c := range fc.used {
		g, _ := sub.NewID(c.gid)
		gidMap[2*(i+1)], gidMap[2*(i+1)+1] = byte(g>>8), byte(g)
		if i > 0 {
			w.WriteByte(' ')
		}
		w.WriteString(strconv.Itoa(c.width))
	}
	w.WriteString("]]")
	cidToGID := add(stream("", gidMap))
	cidFont := add(fmt.Appendf(nil, "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s"+
		" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"+
		" /FontDescriptor %d 0 R /DW 0 /W %s /CIDToGIDMap %d 0 R >>", base, desc, w.String(), cidToGID))
	toUnicode := add(stream("", fc.toUnicode()))
	return add(fmt.Appendf(nil, "<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H"+
		" /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>", base, cidFont, toUnicode)), nil
}

// toUnicode writes the CMap from each CID to the text it stands for.
func (fc *face) toUnicode() []byte {
	var b bytes.Buffer
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for start := 0; start < len(fc.used); start += 100 {
		end := min(start+100, len(fc.used))
		fmt.Fprintf(&b, "%d beginbfchar\n", end-start)
		for i := start; i < end; i++ {
			fmt.Fprintf(&b, "<%04X> <", i+1)
			for _, u := range utf16.Encode([]rune(fc.used[i].text)) {
				fmt.Fprintf(&b, "%04X", u)
			}
			b.WriteString(">\n")
		}
		b.WriteString("endbfchar\n")
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return b.Bytes()
}

// stream returns a compressed stream object's body.
func stream(dict string, data []byte) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = zw.Write(data)
	_ = zw.Close()
	out := fmt.Appendf(nil, "<<%s /Filter /FlateDecode /Length %d>>\nstream\n", dict, z.Len())
	out = append(out, z.Bytes()...)
	return append(out, "\nendstream"...)
}

func num(v float64) string { return string(appendNum(nil, v)) }

// appendNum writes v with at most three decimals and no trailing zeros.
func appendNum(dst []byte, v float64) []byte {
	v = math.Round(v*1000) / 1000
	if v == 0 {
		return append(dst, '0')
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}
