package pdffont

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/vellum-sign/vellum/pkg/truetype"
)

// Stack is an ordered list of fonts: each character is drawn in the first
// font that has a glyph for it.
type Stack []*Font

// cluster is what one glyph stands for: a character, or a base character
// with the combining marks that compose with it into one glyph.
type cluster struct {
	font   *Font
	text   string
	lookup rune // the character whose glyph is drawn (composed, or space)
	gid    truetype.GlyphID
	width  int // thousandths of an em
}

// rightToLeft and shaped are the scripts drawn wrongly without a bidi
// algorithm and glyph shaping; text in them is refused.
var (
	rightToLeft = []*unicode.RangeTable{unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana,
		unicode.Nko, unicode.Samaritan, unicode.Mandaic, unicode.Adlam, unicode.Hanifi_Rohingya,
		unicode.Yezidi, unicode.Old_South_Arabian, unicode.Avestan, unicode.Imperial_Aramaic}
	shaped = []*unicode.RangeTable{unicode.Devanagari, unicode.Bengali, unicode.Gurmukhi,
		unicode.Gujarati, unicode.Oriya, unicode.Tamil, unicode.Telugu, unicode.Kannada,
		unicode.Malayalam, unicode.Sinhala, unicode.Thai, unicode.Lao, unicode.Tibetan,
		unicode.Myanmar, unicode.Khmer, unicode.Mongolian, unicode.Balinese, unicode.Javanese,
		unicode.Sundanese, unicode.Tai_Tham, unicode.Tai_Viet, unicode.Chakma, unicode.Limbu,
		unicode.Buginese, unicode.Batak, unicode.Cham, unicode.Lepcha, unicode.Meetei_Mayek}
)

// isControl reports C0 and C1 control characters other than tab: they
// draw nothing and are dropped (newlines are the caller's to split on).
func isControl(r rune) bool { return r != '\t' && (r < 0x20 || (r >= 0x7F && r < 0xA0)) }

// ignorable reports Unicode's default-ignorable characters (zero-width
// joiners, bidi marks, variation selectors, soft hyphen…): invisible, so
// they are drawn as nothing but still extracted.
func ignorable(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x061C, r == 0x115F, r == 0x1160, r == 0x17B4, r == 0x17B5,
		r >= 0x180B && r <= 0x180F, r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E,
		r >= 0x2060 && r <= 0x206F, r == 0x3164, r >= 0xFE00 && r <= 0xFE0F, r == 0xFEFF,
		r == 0xFFA0, r >= 0xFFF0 && r <= 0xFFF8, r >= 0x1BCA0 && r <= 0x1BCA3,
		r >= 0x1D173 && r <= 0x1D17A, r >= 0xE0000 && r <= 0xE0FFF:
		return true
	}
	return false
}

// scriptOf names r's Unicode script, for error messages.
func scriptOf(r rune) string {
	for name, t := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && unicode.Is(t, r) {
			return name
		}
	}
	return ""
}

// check refuses characters of scripts this package cannot lay out.
func check(r rune) error {
	if unicode.In(r, rightToLeft...) {
		return &UnsupportedError{Rune: r, Script: scriptOf(r), Reason: ReasonRightToLeft}
	}
	if unicode.In(r, shaped...) {
		return &UnsupportedError{Rune: r, Script: scriptOf(r), Reason: ReasonNeedsShaping}
	}
	return nil
}

func (s Stack) find(r rune) (*Font, truetype.GlyphID) {
	for _, f := range s {
		if f == nil {
			continue
		}
		if g, ok := f.tt.GlyphIndex(r); ok {
			return f, g
		}
	}
	return nil, 0
}

// Check returns an *UnsupportedError for the first character of text that
// s cannot draw, nil when it can draw all of it.
func (s Stack) Check(text string) error {
	_, err := s.clusters(text)
	return err
}

// clusters maps text to glyphs.
func (s Stack) clusters(text string) ([]cluster, error) {
	rs := []rune(text)
	out := make([]cluster, 0, len(rs))
	for i := 0; i < len(rs); {
		r := rs[i]
		if r == '\t' {
			r = ' '
		}
		if isControl(r) {
			i++
			continue
		}
		if err := check(r); err != nil {
			return nil, err
		}
		j := i + 1
		for j < len(rs) && unicode.In(rs[j], unicode.Mn, unicode.Me) {
			if err := check(rs[j]); err != nil {
				return nil, err
			}
			j++
		}
		if j > i+1 { // a base with marks: one precomposed glyph if there is one
			if c := norm.NFC.String(string(rs[i:j])); utf8.RuneCountInString(c) == 1 {
				cr, _ := utf8.DecodeRuneInString(c)
				if f, g := s.find(cr); f != nil {
					out = append(out, cluster{f, string(rs[i:j]), cr, g, f.width(g)})
					i = j
					continue
				}
			}
		}
		if f, g := s.find(r); f != nil {
			out = append(out, cluster{f, string(rs[i]), r, g, f.width(g)})
		} else if ignorable(r) {
			if f, g := s.find(' '); f != nil {
				out = append(out, cluster{f, string(r), ' ', g, 0})
			}
		} else {
			return nil, &UnsupportedError{Rune: r, Script: scriptOf(r), Reason: ReasonNoGlyph}
		}
		i++
	}
	return out, nil
}

func sumWidth(cs []cluster) int {
	w := 0
	for _, c := range cs {
		w += c.width
	}
	return w
}

// Width returns the advance width of text at size, in points.
func (s Stack) Width(text string, size float64) (float64, error) {
	cs, err := s.clusters(text)
	if err != nil {
		return 0, err
	}
	return float64(sumWidth(cs)) * size / 1000, nil
}

// Wrap breaks text into lines no wider than width points at size: at
// spaces, and inside a word only when the word alone is too wide. A newline
// always breaks.
func (s Stack) Wrap(text string, size, width float64) ([]string, error) {
	limit := int(width * 1000 / size)
	spaceW := 0
	if f, g := s.find(' '); f != nil {
		spaceW = f.width(g)
	}
	var lines []string
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line, lineW := "", 0
		for _, word := range strings.FieldsFunc(para, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' }) {
			cs, err := s.clusters(word)
			if err != nil {
				return nil, err
			}
			ww := sumWidth(cs)
			if line != "" && lineW+spaceW+ww <= limit {
				line, lineW = line+" "+word, lineW+spaceW+ww
				continue
			}
			if line != "" {
				lines = append(lines, line)
			}
			for ww > limit && len(cs) > 1 { // hashes, URLs, CJK
				n, w := 0, 0
				for n < len(cs) && (n == 0 || w+cs[n].width <= limit) {
					w += cs[n].width
					n++
				}
				lines = append(lines, joinText(cs[:n]))
				cs = cs[n:]
				ww -= w
			}
			line, lineW = joinText(cs), ww
		}
		lines = append(lines, line)
	}
	return lines, nil
}

func joinText(cs []cluster) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.text)
	}
	return b.String()
}

// Truncate returns text when it fits in width points at size, otherwise
// its longest beginning that fits followed by an ellipsis.
func (s Stack) Truncate(text string, size, width float64) (string, error) {
	cs, err := s.clusters(text)
	if err != nil {
		return "", err
	}
	limit := int(width * 1000 / size)
	if sumWidth(cs) <= limit {
		return text, nil
	}
	ell := "…"
	ecs, err := s.clusters(ell)
	if err != nil {
		ell = "..."
		if ecs, err = s.clusters(ell); err != nil {
			return "", err
		}
	}
	w := sumWidth(ecs)
	n := 0
	for n < len(cs) && w+cs[n].width <= limit {
		w += cs[n].width
		n++
	}
	return strings.TrimRight(joinText(cs[:n]), " ") + ell, nil
}

// Printable returns text with every character s cannot draw replaced by
// its code point in brackets ("[U+0627]"), for reports that must show
// whatever they are given rather than fail.
func (s Stack) Printable(text string) string {
	if s.Check(text) == nil {
		return text
	}
	var b strings.Builder
	for _, r := range text {
		if s.Check(string(r)) != nil {
			b.WriteString("[U+")
			b.WriteString(hex4(r))
			b.WriteString("]")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hex4(r rune) string {
	const digits = "0123456789ABCDEF"
	var buf []byte
	for v := uint32(r); v > 0 || len(buf) < 4; v >>= 4 {
		buf = append(buf, digits[v&0xF])
	}
	slices.Reverse(buf)
	return string(buf)
}

// ranges merges characters into sorted ranges.
func ranges(rs []rune) [][2]rune {
	slices.Sort(rs)
	var out [][2]rune
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1][1]+1 >= r {
			out[n-1][1] = max(out[n-1][1], r)
			continue
		}
		out = append(out, [2]rune{r, r})
	}
	return out
}
