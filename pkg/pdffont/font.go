// Package pdffont draws Unicode text in PDF files with embedded TrueType
// fonts. Each font a document uses is embedded once as a composite font
// (Type 0, CIDFontType2, Identity-H) holding a subset of its glyphs, with a
// ToUnicode map so that text extraction (pdftotext, copy and paste, screen
// readers) gives back exactly the characters that were drawn.
//
// Text is measured with the fonts' own advance widths, wrapped, and drawn
// character by character in the first font of a Stack that has a glyph for
// it. There is no shaping: scripts that need it (right-to-left scripts such
// as Arabic and Hebrew, and the Brahmic scripts of South and South-East
// Asia) are refused with an *UnsupportedError rather than drawn wrongly.
// Han, Kana and Hangul need no shaping and are drawn when a font of the
// stack has them (the built-in fonts do not; see Parse).
//
// The package writes no PDF file itself: the caller's writer adds the font
// objects through an AddObject function, so the same code serves an
// incremental update of an existing file and a file written from scratch.
package pdffont

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"

	"github.com/vellum-sign/vellum/pkg/truetype"
)

// Font is a TrueType font to draw text with. It is immutable and may be
// shared by any number of documents.
type Font struct {
	tt   *truetype.Font
	name string
}

// Parse reads a TrueType font (.ttf, or the first font of a .ttc) for
// embedding. Fonts with CFF outlines and fonts whose licence bits forbid
// embedding are refused.
func Parse(data []byte) (*Font, error) {
	tt, err := truetype.Parse(data)
	if err != nil {
		return nil, err
	}
	if err := tt.Embeddable(); err != nil {
		return nil, err
	}
	name := tt.Metrics().PostScriptName
	if name == "" {
		name = "Font"
	}
	return &Font{tt: tt, name: name}, nil
}

// ParseFile reads a font file for Parse; errors name the file.
func ParseFile(path string) (*Font, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Name is the font's PostScript name.
func (f *Font) Name() string { return f.name }

// Has reports whether the font has a glyph for r.
func (f *Font) Has(r rune) bool {
	_, ok := f.tt.GlyphIndex(r)
	return ok
}

// Ranges returns the characters the font has as sorted, merged ranges
// [lo, hi], e.g. for a CSS unicode-range or a client-side coverage check.
func (f *Font) Ranges() [][2]rune {
	return ranges(f.tt.Runes())
}

// width is glyph g's advance in thousandths of an em, as PDF's /W wants it.
func (f *Font) width(g truetype.GlyphID) int {
	return int(math.Round(float64(f.tt.Advance(g)) * 1000 / float64(f.tt.UnitsPerEm())))
}

// Ascent and Descent are the font's typographic ascender and descender in
// thousandths of an em (Descent is negative).
func (f *Font) Ascent() float64  { return f.units(f.tt.Metrics().Ascent) }
func (f *Font) Descent() float64 { return f.units(f.tt.Metrics().Descent) }

func (f *Font) units(v int) float64 { return float64(v) * 1000 / float64(f.tt.UnitsPerEm()) }

// The built-in fonts, subsets of Noto (Latin, Greek and Cyrillic with
// their extensions) and of Kristi, all under the SIL Open Font License
// (fonts/OFL.txt).
//
//go:embed fonts/*.ttf
var builtin embed.FS

func load(file string) func() *Font {
	return sync.OnceValue(func() *Font {
		data, err := builtin.ReadFile("fonts/" + file)
		if err != nil {
			panic(err) // embedded at build time
		}
		f, err := Parse(data)
		if err != nil {
			panic(fmt.Sprintf("pdffont: built-in %s: %v", file, err))
		}
		return f
	})
}

var (
	// Sans is Noto Sans Regular, the body face.
	Sans = load("NotoSans-Regular.ttf")
	// SansBold is Noto Sans Bold.
	SansBold = load("NotoSans-Bold.ttf")
	// Mono is Noto Sans Mono for Basic Latin and Latin-1 (hashes, serial
	// numbers); stack it before Sans.
	Mono = load("NotoSansMono-Regular.ttf")
	// Handwriting is Kristi, a handwriting face for typed signatures. It
	// covers Basic Latin and most of Latin-1 only: see SignatureStack.
	Handwriting = load("Kristi.ttf")
	// SerifItalic is Noto Serif Italic, the typed-signature face for names
	// Handwriting cannot write.
	SerifItalic = load("NotoSerif-Italic.ttf")
)

// HandwritingFile returns the built-in handwriting font file, for serving
// to a browser that previews a typed signature.
func HandwritingFile() []byte { return mustRead("Kristi.ttf") }

// SerifItalicFile returns the built-in Noto Serif Italic file.
func SerifItalicFile() []byte { return mustRead("NotoSerif-Italic.ttf") }

func mustRead(name string) []byte {
	b, err := builtin.ReadFile("fonts/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

// SignatureStack returns the fonts a typed signature is drawn in: the
// handwriting face when it has every character of text, otherwise Noto Serif
// Italic and then extra (for Han and the like). One face for the whole
// signature, never a mix of handwriting and another face within a name.
func SignatureStack(text string, extra ...*Font) Stack {
	h := Handwriting()
	all := true
	for _, r := range text {
		if !h.Has(r) && !ignorable(r) && !isControl(r) {
			all = false
			break
		}
	}
	if all {
		return Stack{h}
	}
	return append(Stack{SerifItalic()}, extra...)
}

// UnsupportedError means text has a character that cannot be drawn.
type UnsupportedError struct {
	Rune   rune
	Script string // Unicode script name, e.g. "Arabic", "Han"
	// Reason is "right-to-left", "needs shaping" or "no glyph".
	Reason string
}

// Reasons an UnsupportedError gives.
const (
	ReasonRightToLeft  = "right-to-left"
	ReasonNeedsShaping = "needs shaping"
	ReasonNoGlyph      = "no glyph"
)

func (e *UnsupportedError) Error() string {
	c := fmt.Sprintf("U+%04X %q", e.Rune, string(e.Rune))
	if e.Script != "" {
		c += " (" + e.Script + ")"
	}
	switch e.Reason {
	case ReasonRightToLeft:
		return "pdffont: " + c + " belongs to a right-to-left script, which is not supported"
	case ReasonNeedsShaping:
		return "pdffont: " + c + " belongs to a script that needs glyph shaping, which is not supported"
	}
	return "pdffont: " + c + ": no font has a glyph for it"
}

// ErrUnsupported matches every *UnsupportedError with errors.Is.
var ErrUnsupported = errors.New("pdffont: unsupported character")

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }
