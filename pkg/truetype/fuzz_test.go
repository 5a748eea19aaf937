package truetype

import (
	"os"
	"testing"
)

// FuzzParseAndSubset feeds arbitrary bytes to Parse; whatever parses must
// subset without panicking, and the subset must parse again.
func FuzzParseAndSubset(f *testing.F) {
	for _, p := range []string{"../pdffont/fonts/Kristi.ttf", "../pdffont/fonts/NotoSansMono-Regular.ttf"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		tt, err := Parse(data)
		if err != nil {
			f.Fatal(err)
		}
		s, err := tt.Subset([]rune("Aé0"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s.Font) // small seeds mutate faster
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tt, err := Parse(data)
		if err != nil {
			return
		}
		for _, r := range "Aé0 " {
			if g, ok := tt.GlyphIndex(r); ok {
				_ = tt.Advance(g)
			}
		}
		s, err := tt.Subset(tt.Runes())
		if err != nil {
			return
		}
		if _, err := Parse(s.Font); err != nil {
			t.Fatalf("subset of a parsed font does not parse: %v", err)
		}
	})
}
