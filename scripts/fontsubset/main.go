// Command fontsubset cuts a TrueType font down to some Unicode ranges with
// pkg/truetype, as used to make the fonts in pkg/pdffont/fonts from Debian's
// fonts-noto-core and fonts-kristi:
//
//	go run ./scripts/fontsubset -ranges names /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf pkg/pdffont/fonts/NotoSans-Regular.ttf
//
// -ranges is a comma-separated list of hex ranges (0020-007E) or the names
// "names" (Latin, Greek and Cyrillic with their extensions, punctuation,
// currency) and "latin1" (Basic Latin and Latin-1), or "all".
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vellum-sign/vellum/pkg/truetype"
)

var named = map[string]string{
	// Scripts of people's names in Europe and Central Asia, plus the
	// punctuation, currency and letter-like symbols documents use.
	"names": "0020-007E,00A0-024F,0250-02FF,0300-036F,0370-03FF,0400-052F,1E00-1EFF," +
		"2000-206F,2070-209F,20A0-20CF,2100-214F,FB00-FB06,25CC,FFFD",
	"latin1": "0020-007E,00A0-00FF",
}

func main() {
	ranges := flag.String("ranges", "names", "comma-separated hex ranges, or names, latin1, all")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: fontsubset [-ranges R] in.ttf out.ttf")
		os.Exit(2)
	}
	if err := run(*ranges, flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintln(os.Stderr, "fontsubset:", err)
		os.Exit(1)
	}
}

func run(spec, in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	f, err := truetype.Parse(data)
	if err != nil {
		return err
	}
	var runes []rune
	if spec == "all" {
		runes = f.Runes()
	} else {
		if s, ok := named[spec]; ok {
			spec = s
		}
		for _, part := range strings.Split(spec, ",") {
			if s, ok := named[part]; ok {
				part = s
			}
			lo, hi, _ := strings.Cut(part, "-")
			if hi == "" {
				hi = lo
			}
			a, err1 := strconv.ParseUint(lo, 16, 32)
			b, err2 := strconv.ParseUint(hi, 16, 32)
			if err1 != nil || err2 != nil || a > b {
				return fmt.Errorf("bad range %q", part)
			}
			for r := a; r <= b; r++ {
				runes = append(runes, rune(r))
			}
		}
	}
	s, err := f.Subset(runes)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, s.Font, 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d → %d bytes, %d → %d glyphs\n", out, len(data), len(s.Font), f.NumGlyphs(), len(s.Glyphs))
	return nil
}
