package truetype

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// fontFiles are the subsets pkg/pdffont embeds: Noto Sans, Bold, Serif
// Italic, Sans Mono and Kristi.
func fontFiles(t testing.TB) map[string][]byte {
	t.Helper()
	paths, _ := filepath.Glob("../pdffont/fonts/*.ttf")
	if len(paths) < 5 {
		t.Fatalf("fonts not found: %v", paths)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// sample are characters of names in Latin with diacritics (many of them
// composite glyphs in Noto), Greek, Cyrillic and Kazakh, and punctuation.
var sample = []rune("AÁǺáčřžŁłŐőĐđẶặƏəΑάΏώЖжЁёӘәҒғҚқҢңӨөҰұҮүҺһІі’“”€œ…fi 0123456789")

// TestParse_AgreesWithXImageSfnt compares cmap lookups and advance widths
// with golang.org/x/image/font/sfnt for every character of every font.
func TestParse_AgreesWithXImageSfnt(t *testing.T) {
	for file, data := range fontFiles(t) {
		f, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		ref, err := sfnt.Parse(data)
		if err != nil {
			t.Fatalf("%s: sfnt: %v", file, err)
		}
		var buf sfnt.Buffer
		ppem := fixed.I(f.UnitsPerEm())
		for _, r := range f.Runes() {
			g, _ := f.GlyphIndex(r)
			want, err := ref.GlyphIndex(&buf, r)
			if err != nil || GlyphID(want) != g {
				t.Fatalf("%s: U+%04X → glyph %d, sfnt says %d (%v)", file, r, g, want, err)
			}
			adv, err := ref.GlyphAdvance(&buf, want, ppem, font.HintingNone)
			if err != nil || adv != fixed.I(f.Advance(g)) {
				t.Fatalf("%s: glyph %d advance %d, sfnt says %v (%v)", file, g, f.Advance(g), adv, err)
			}
		}
		if len(f.Runes()) < 150 {
			t.Errorf("%s maps only %d characters", file, len(f.Runes()))
		}
	}
}

// TestSubset_KeepsOutlinesMetricsAndComposites checks, with an independent
// reader, that every character of a subset has the same outline (composite
// glyphs resolved through their renumbered components) and advance as in
// the original font, and that the file's checksums are right.
func TestSubset_KeepsOutlinesMetricsAndComposites(t *testing.T) {
	for file, data := range fontFiles(t) {
		f, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		s, err := f.Subset(sample)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(s.Font) >= len(data)/2 {
			t.Errorf("%s: subset is %d of %d bytes", file, len(s.Font), len(data))
		}
		if sum := checksum(s.Font); sum != 0xB1B0AFBA {
			t.Errorf("%s: file checksum %#x, want 0xB1B0AFBA", file, sum)
		}
		sub, err := Parse(s.Font)
		if err != nil {
			t.Fatalf("%s: subset does not parse: %v", file, err)
		}
		ref, _ := sfnt.Parse(data)
		refSub, err := sfnt.Parse(s.Font)
		if err != nil {
			t.Fatalf("%s: sfnt rejects the subset: %v", file, err)
		}
		var b1, b2 sfnt.Buffer
		ppem := fixed.I(f.UnitsPerEm())
		composites := 0
		for _, r := range sample {
			og, ok := f.GlyphIndex(r)
			if !ok {
				if _, has := sub.GlyphIndex(r); has {
					t.Errorf("%s: subset maps U+%04X the original lacks", file, r)
				}
				continue
			}
			ng, ok := sub.GlyphIndex(r)
			if want, _ := s.NewID(og); !ok || ng != want {
				t.Fatalf("%s: U+%04X is glyph %d in the subset, want %d", file, r, ng, want)
			}
			if sub.Advance(ng) != f.Advance(og) {
				t.Errorf("%s: U+%04X advance %d, was %d", file, r, sub.Advance(ng), f.Advance(og))
			}
			if s.Glyphs[ng] != og {
				t.Errorf("%s: Glyphs[%d] = %d, want %d", file, ng, s.Glyphs[ng], og)
			}
			if d := f.glyph(og); len(d) >= 10 && int16(binary.BigEndian.Uint16(d)) < 0 {
				composites++
			}
			want, err1 := ref.LoadGlyph(&b1, sfnt.GlyphIndex(og), ppem, nil)
			got, err2 := refSub.LoadGlyph(&b2, sfnt.GlyphIndex(ng), ppem, nil)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(want, got) {
				t.Errorf("%s: U+%04X outline differs (%v, %v)", file, r, err1, err2)
			}
		}
		if file == "NotoSans-Regular.ttf" && composites < 10 {
			t.Errorf("%s: only %d composite glyphs among the sample; the test would not exercise components", file, composites)
		}
	}
}

func TestSubset_AlwaysKeepsNotdefAndDropsLayoutTables(t *testing.T) {
	data := fontFiles(t)["NotoSans-Regular.ttf"]
	f, _ := Parse(data)
	s, err := f.Subset(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Glyphs) != 1 || s.Glyphs[0] != 0 {
		t.Errorf("empty subset keeps %v, want [.notdef]", s.Glyphs)
	}
	sub, err := Parse(s.Font)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"GSUB", "GPOS", "GDEF", "kern", "hdmx", "vmtx"} {
		if sub.tables[tag] != nil {
			t.Errorf("subset keeps %s, whose glyph numbers no longer match", tag)
		}
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap", "OS/2", "post", "name"} {
		if sub.tables[tag] == nil {
			t.Errorf("subset lacks %s", tag)
		}
	}
}

func TestParse_RefusesMalformedAndUnsuitableFonts(t *testing.T) {
	good := fontFiles(t)["Kristi.ttf"]
	f, _ := Parse(good)
	mutate := func(fn func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		fn(b)
		return b
	}
	tableOffset := func(b []byte, tag string) int {
		n := int(binary.BigEndian.Uint16(b[4:]))
		for i := 0; i < n; i++ {
			if string(b[12+16*i:16+16*i]) == tag {
				return int(binary.BigEndian.Uint32(b[12+16*i+8:]))
			}
		}
		t.Fatalf("no %s", tag)
		return 0
	}
	for _, tc := range []struct {
		name string
		data []byte
		is   error
	}{
		{"empty", nil, nil},
		{"CFF outlines", append([]byte("OTTO"), good[4:]...), ErrCFF},
		{"truncated", good[:len(good)/3], nil},
		{"table past the end", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[12+12:], 0x7FFFFFFF) }), nil},
		{"bad head magic", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[tableOffset(b, "head")+12:], 0) }), nil},
		{"loca out of order", mutate(func(b []byte) {
			lo := tableOffset(b, "loca")
			binary.BigEndian.PutUint16(b[lo+4:], 0xFFFF)
		}), nil},
		{"collection index", collection(good), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if tc.name == "collection index" {
				if err != nil {
					t.Fatalf("a one-font collection: %v", err)
				}
				if _, err := ParseCollection(tc.data, 1); err == nil {
					t.Error("font 1 of a one-font collection accepted")
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("got %v, want %v", err, tc.is)
			}
		})
	}
	if f.Embeddable() != nil {
		t.Error("Kristi is installable")
	}
	restricted := mutate(func(b []byte) { binary.BigEndian.PutUint16(b[tableOffset(b, "OS/2")+8:], 0x0002) })
	rf, err := Parse(restricted)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(rf.Embeddable(), ErrNotEmbeddable) {
		t.Error("restricted-licence font reported embeddable")
	}
}

// collection wraps a font as the only font of a .ttc, whose table offsets
// count from the start of the collection file.
func collection(font []byte) []byte {
	out := append([]byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10"), font...)
	n := int(binary.BigEndian.Uint16(out[16+4:]))
	for i := 0; i < n; i++ {
		p := 16 + 12 + 16*i + 8
		binary.BigEndian.PutUint32(out[p:], binary.BigEndian.Uint32(out[p:])+16)
	}
	return out
}
