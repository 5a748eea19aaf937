package truetype

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// parseCmap reads the best Unicode subtable: format 12 (full repertoire)
// before format 4 (BMP).
func (f *Font) parseCmap() error {
	cmap := f.tables["cmap"]
	if len(cmap) < 4 {
		return errors.New("truetype: cmap table too short")
	}
	n := int(u16(cmap, 2))
	var best []byte
	bestScore := 0
	for i := 0; i < n && 4+8*i+8 <= len(cmap); i++ {
		platform, enc, off := u16(cmap, 4+8*i), u16(cmap, 4+8*i+2), int(u32(cmap, 4+8*i+4))
		if off+4 > len(cmap) {
			continue
		}
		format := u16(cmap, off)
		unicode := platform == 0 || (platform == 3 && (enc == 1 || enc == 10))
		if !unicode {
			continue
		}
		score := 0
		switch format {
		case 12:
			score = 2
		case 4:
			score = 1
		}
		if score > bestScore {
			best, bestScore = cmap[off:], score
		}
	}
	f.cmap = map[rune]GlyphID{}
	switch bestScore {
	case 2:
		return f.parseCmap12(best)
	case 1:
		return f.parseCmap4(best)
	}
	return errors.New("truetype: no Unicode cmap (format 4 or 12)")
}

func (f *Font) add(r rune, g GlyphID) error {
	if g == 0 || int(g) >= f.numGlyphs || r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF) {
		return nil // unmapped, or a glyph or character that does not exist
	}
	if len(f.cmap) >= maxCmapRunes {
		return fmt.Errorf("truetype: cmap maps more than %d characters", maxCmapRunes)
	}
	f.cmap[r] = g
	return nil
}

func (f *Font) parseCmap4(t []byte) error {
	if len(t) < 14 {
		return errors.New("truetype: cmap format 4 too short")
	}
	length := int(u16(t, 2))
	if length > len(t) {
		length = len(t) // some fonts overstate it; the bounds below still hold
	}
	if length < 16 {
		return errors.New("truetype: cmap format 4 too short")
	}
	t = t[:length]
	segX2 := int(u16(t, 6))
	if segX2%2 != 0 || 16+4*segX2 > len(t) {
		return errors.New("truetype: cmap format 4 segment arrays out of range")
	}
	ends, starts, deltas, ranges := 14, 16+segX2, 16+2*segX2, 16+3*segX2
	for s := 0; s < segX2; s += 2 {
		end, start := rune(u16(t, ends+s)), rune(u16(t, starts+s))
		delta, ro := u16(t, deltas+s), int(u16(t, ranges+s))
		if start > end {
			continue
		}
		for c := start; c <= end && c != 0xFFFF; c++ {
			var g uint16
			if ro == 0 {
				g = uint16(c) + delta
			} else {
				p := ranges + s + ro + 2*int(c-start)
				if p+2 > len(t) {
					break
				}
				if g = u16(t, p); g != 0 {
					g += delta
				}
			}
			if err := f.add(c, GlyphID(g)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Font) parseCmap12(t []byte) error {
	if len(t) < 16 {
		return errors.New("truetype: cmap format 12 too short")
	}
	n := int64(u32(t, 12))
	if 16+12*n > int64(len(t)) {
		return errors.New("truetype: cmap format 12 groups out of range")
	}
	var work int64
	for i := 0; i < int(n); i++ {
		start, end, g := int64(u32(t, 16+12*i)), int64(u32(t, 16+12*i+4)), int64(u32(t, 16+12*i+8))
		if end > 0x10FFFF {
			end = 0x10FFFF
		}
		if start > end {
			continue
		}
		// Groups may overlap or map past the glyphs: bound the work, not
		// only the characters kept.
		if work += end - start + 1; work > 4*maxCmapRunes {
			return fmt.Errorf("truetype: cmap format 12 groups cover more than %d characters", 4*maxCmapRunes)
		}
		for c := start; c <= end; c++ {
			if gid := g + c - start; gid < int64(f.numGlyphs) {
				if err := f.add(rune(c), GlyphID(gid)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// mapping is one character of a subset's cmap.
type mapping struct {
	r rune
	g GlyphID
}

// buildCmap writes a cmap table: format 4 for the Basic Multilingual Plane
// when it fits in its 64 KB limit, and format 12 when characters lie beyond
// it (or format 4 would not fit).
func buildCmap(m []mapping) []byte {
	sort.Slice(m, func(i, j int) bool { return m[i].r < m[j].r })
	var bmp []mapping
	astral := false
	for _, e := range m {
		if e.r < 0xFFFF { // U+FFFF is format 4's end marker
			bmp = append(bmp, e)
		} else {
			astral = true
		}
	}
	type sub struct {
		enc  uint16
		data []byte
	}
	var subs []sub
	f4 := cmap4(bmp)
	if f4 != nil {
		subs = append(subs, sub{1, f4})
	}
	if astral || f4 == nil {
		subs = append(subs, sub{10, cmap12(m)})
	}
	out := make([]byte, 4+8*len(subs))
	binary.BigEndian.PutUint16(out[2:], uint16(len(subs)))
	for i, s := range subs {
		binary.BigEndian.PutUint16(out[4+8*i:], 3)
		binary.BigEndian.PutUint16(out[4+8*i+2:], s.enc)
		binary.BigEndian.PutUint32(out[4+8*i+4:], uint32(len(out)))
		out = append(out, s.data...)
	}
	return out
}

// cmap4 writes a format 4 subtable whose segments are runs of consecutive
// characters with consecutive glyphs (idDelta only, no glyphIdArray); nil
// when it would exceed the format's 64 KB.
func cmap4(m []mapping) []byte {
	type seg struct{ start, end, delta uint16 }
	var segs []seg
	for _, e := range m {
		d := uint16(e.g) - uint16(e.r)
		if n := len(segs); n > 0 && segs[n-1].end+1 == uint16(e.r) && segs[n-1].delta == d {
			segs[n-1].end++
			continue
		}
		segs = append(segs, seg{uint16(e.r), uint16(e.r), d})
	}
	segs = append(segs, seg{0xFFFF, 0xFFFF, 1})
	n := len(segs)
	length := 16 + 8*n
	if length > 0xFFFF {
		return nil
	}
	b := make([]byte, length)
	put := binary.BigEndian.PutUint16
	put(b[0:], 4)
	put(b[2:], uint16(length))
	put(b[6:], uint16(2*n))
	sr, sel := searchParams(n, 2)
	put(b[8:], sr)
	put(b[10:], sel)
	put(b[12:], uint16(2*n)-sr)
	for i, s := range segs {
		put(b[14+2*i:], s.end)
		put(b[16+2*n+2*i:], s.start)
		put(b[16+4*n+2*i:], s.delta)
		// idRangeOffset stays 0
	}
	return b
}

func cmap12(m []mapping) []byte {
	type group struct {
		start, end rune
		g          GlyphID
	}
	var groups []group
	for _, e := range m {
		if n := len(groups); n > 0 {
			last := &groups[n-1]
			if last.end+1 == e.r && rune(last.g)+(e.r-last.start) == rune(e.g) {
				last.end++
				continue
			}
		}
		groups = append(groups, group{e.r, e.r, e.g})
	}
	b := make([]byte, 16+12*len(groups))
	binary.BigEndian.PutUint16(b[0:], 12)
	binary.BigEndian.PutUint32(b[4:], uint32(len(b)))
	binary.BigEndian.PutUint32(b[12:], uint32(len(groups)))
	for i, g := range groups {
		binary.BigEndian.PutUint32(b[16+12*i:], uint32(g.start))
		binary.BigEndian.PutUint32(b[20+12*i:], uint32(g.end))
		binary.BigEndian.PutUint32(b[24+12*i:], uint32(g.g))
	}
	return b
}

// searchParams returns searchRange and entrySelector for n entries of the
// given size: the largest power of two ≤ n, times size, and its log2.
func searchParams(n, size int) (uint16, uint16) {
	p, log := 1, 0
	for p*2 <= n {
		p *= 2
		log++
	}
	return uint16(p * size), uint16(log)
}
