package truetype

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Subset is a font cut down to the glyphs of some characters.
type Subset struct {
	// Font is the subset font file (a complete .ttf).
	Font []byte
	// Glyphs maps new glyph numbers to the original ones: Glyphs[new] = old.
	// Glyph 0 (.notdef) is always kept as glyph 0.
	Glyphs []GlyphID
	newIDs map[GlyphID]GlyphID
}

// NewID returns the subset's number for the original glyph old.
func (s *Subset) NewID(old GlyphID) (GlyphID, bool) {
	g, ok := s.newIDs[old]
	return g, ok
}

// copied are the tables a subset keeps unchanged: names, hinting programs
// and their data. Everything indexed by glyph number or describing layout
// features (GSUB, GPOS, kern, hdmx, vmtx…) is dropped, since its numbers
// would no longer match.
var copied = map[string]bool{"name": true, "cvt ": true, "fpgm": true, "prep": true, "gasp": true}

// Subset writes a font holding the glyphs the cmap maps runes to, .notdef,
// and every component of a composite glyph among them, renumbered in their
// original order. Characters the font lacks are left out. The subset has a
// cmap for the kept characters, horizontal metrics, the hinting tables, the
// name table, OS/2 and a post table without glyph names.
func (f *Font) Subset(runes []rune) (*Subset, error) {
	keep := map[GlyphID]bool{0: true}
	var queue []GlyphID
	var maps []mapping
	seen := map[rune]bool{}
	for _, r := range runes {
		g, ok := f.cmap[r]
		if !ok || seen[r] {
			continue
		}
		seen[r] = true
		maps = append(maps, mapping{r, g})
		if !keep[g] {
			keep[g] = true
			queue = append(queue, g)
		}
	}
	queue = append(queue, 0)
	for len(queue) > 0 {
		g := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		err := components(f.glyph(g), func(_ int, c GlyphID) error {
			if int(c) >= f.numGlyphs {
				return fmt.Errorf("truetype: glyph %d uses glyph %d, past the font's %d glyphs", g, c, f.numGlyphs)
			}
			if !keep[c] {
				keep[c] = true
				queue = append(queue, c)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	s := &Subset{newIDs: make(map[GlyphID]GlyphID, len(keep))}
	for g := range keep {
		s.Glyphs = append(s.Glyphs, g)
	}
	sort.Slice(s.Glyphs, func(i, j int) bool { return s.Glyphs[i] < s.Glyphs[j] })
	for n, g := range s.Glyphs {
		s.newIDs[g] = GlyphID(n)
	}
	for i := range maps {
		maps[i].g = s.newIDs[maps[i].g]
	}
	var err error
	s.Font, err = f.write(s, maps)
	return s, err
}

// components calls fn with the offset and glyph number of each component
// of a composite glyph; simple and empty glyphs have none.
func components(d []byte, fn func(off int, g GlyphID) error) error {
	if len(d) < 10 || i16(d, 0) >= 0 {
		return nil
	}
	const (
		argsAreWords   = 0x0001
		haveScale      = 0x0008
		moreComponents = 0x0020
		haveXYScale    = 0x0040
		have2x2        = 0x0080
	)
	p := 10
	for i := 0; ; i++ {
		if p+4 > len(d) || i > 1024 {
			return fmt.Errorf("truetype: composite glyph truncated")
		}
		flags := u16(d, p)
		if err := fn(p+2, GlyphID(u16(d, p+2))); err != nil {
			return err
		}
		p += 4
		if flags&argsAreWords != 0 {
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&haveScale != 0:
			p += 2
		case flags&haveXYScale != 0:
			p += 4
		case flags&have2x2 != 0:
			p += 8
		}
		if flags&moreComponents == 0 {
			if p > len(d) {
				return fmt.Errorf("truetype: composite glyph truncated")
			}
			return nil
		}
	}
}

// write assembles the subset font file.
func (f *Font) write(s *Subset, maps []mapping) ([]byte, error) {
	n := len(s.Glyphs)
	var glyf []byte
	offsets := make([]int, 0, n+1)
	for _, old := range s.Glyphs {
		offsets = append(offsets, len(glyf))
		d := append([]byte(nil), f.glyph(old)...)
		err := components(d, func(off int, c GlyphID) error {
			binary.BigEndian.PutUint16(d[off:], uint16(s.newIDs[c]))
			return nil
		})
		if err != nil {
			return nil, err
		}
		glyf = append(glyf, d...)
		for len(glyf)%4 != 0 {
			glyf = append(glyf, 0)
		}
	}
	offsets = append(offsets, len(glyf))
	longLoca := len(glyf) > 0x1FFFE
	var loca []byte
	for _, o := range offsets {
		if longLoca {
			loca = binary.BigEndian.AppendUint32(loca, uint32(o))
		} else {
			loca = binary.BigEndian.AppendUint16(loca, uint16(o/2))
		}
	}
	hmtx := make([]byte, 0, 4*n)
	for _, old := range s.Glyphs {
		hmtx = binary.BigEndian.AppendUint16(hmtx, f.advances[old])
		hmtx = binary.BigEndian.AppendUint16(hmtx, uint16(f.lsbs[old]))
	}

	head := append([]byte(nil), f.tables["head"][:54]...)
	binary.BigEndian.PutUint32(head[8:], 0) // checkSumAdjustment, set last
	if longLoca {
		binary.BigEndian.PutUint16(head[50:], 1)
	} else {
		binary.BigEndian.PutUint16(head[50:], 0)
	}
	hhea := append([]byte(nil), f.tables["hhea"][:36]...)
	binary.BigEndian.PutUint16(hhea[34:], uint16(n))
	maxp := append([]byte(nil), f.tables["maxp"]...)
	binary.BigEndian.PutUint16(maxp[4:], uint16(n))

	out := map[string][]byte{
		"head": head, "hhea": hhea, "maxp": maxp, "hmtx": hmtx,
		"loca": loca, "glyf": glyf, "cmap": buildCmap(maps),
	}
	if os2 := f.tables["OS/2"]; len(os2) >= 68 {
		os2 = append([]byte(nil), os2...)
		first, last := rune(0xFFFF), rune(0)
		for _, m := range maps {
			first, last = min(first, m.r), max(last, min(m.r, 0xFFFF))
		}
		if len(maps) == 0 {
			first = 0
		}
		binary.BigEndian.PutUint16(os2[64:], uint16(first))
		binary.BigEndian.PutUint16(os2[66:], uint16(last))
		out["OS/2"] = os2
	}
	if post := f.tables["post"]; len(post) >= 32 {
		post = append([]byte(nil), post[:32]...)
		binary.BigEndian.PutUint32(post[0:], 0x00030000) // no glyph names
		out["post"] = post
	}
	for tag := range copied {
		if t := f.tables[tag]; t != nil {
			out[tag] = t
		}
	}
	return assemble(out), nil
}

// assemble lays tables out after the table directory, sorted by tag and
// 4-byte aligned, and sets the checksums.
func assemble(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	nt := len(tags)
	buf := make([]byte, 12+16*nt)
	binary.BigEndian.PutUint32(buf[0:], 0x00010000)
	binary.BigEndian.PutUint16(buf[4:], uint16(nt))
	sr, sel := searchParams(nt, 16)
	binary.BigEndian.PutUint16(buf[6:], sr)
	binary.BigEndian.PutUint16(buf[8:], sel)
	binary.BigEndian.PutUint16(buf[10:], uint16(16*nt)-sr)
	headAt := 0
	for i, tag := range tags {
		data := tables[tag]
		rec := buf[12+16*i:]
		copy(rec, tag)
		binary.BigEndian.PutUint32(rec[4:], checksum(data))
		binary.BigEndian.PutUint32(rec[8:], uint32(len(buf)))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(data)))
		if tag == "head" {
			headAt = len(buf)
		}
		buf = append(buf, data...)
		for len(buf)%4 != 0 {
			buf = append(buf, 0)
		}
	}
	binary.BigEndian.PutUint32(buf[headAt+8:], 0xB1B0AFBA-checksum(buf))
	return buf
}

// checksum is the sum of the data's big-endian 32-bit words, zero-padded.
func checksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}
