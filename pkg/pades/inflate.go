package pades

import "math/bits"

// fastInflate decodes a raw DEFLATE stream (RFC 1951) held entirely in
// memory, as xref and object streams are. compress/flate pulls every byte
// through an io.ByteReader and a 32 KB window; decoding straight from and
// into slices with table lookups is several times faster, and that decoding
// was the largest part of reading a small file's structure.
//
// It is strict: on anything compress/flate might treat differently — any
// error, truncated input, output beyond limit — it reports !ok and the
// caller decodes with compress/flate instead, so results never differ.
func fastInflate(in []byte, sizeHint, limit int) ([]byte, bool) {
	f := inflateState{in: in}
	out := make([]byte, 0, sizeHint)
	for {
		final, ok1 := f.bits(1)
		typ, ok2 := f.bits(2)
		if !ok1 || !ok2 {
			return nil, false
		}
		var ok bool
		switch typ {
		case 0:
			out, ok = f.stored(out, limit)
		case 1:
			out, ok = f.codes(out, &fixedLit, &fixedDist, limit)
		case 2:
			var lit, dist huffTable
			if !f.dynamic(&lit, &dist) {
				return nil, false
			}
			out, ok = f.codes(out, &lit, &dist, limit)
		default:
			return nil, false
		}
		if !ok {
			return nil, false
		}
		if final == 1 {
			return out, true
		}
	}
}

type inflateState struct {
	in    []byte
	pos   int    // next byte of in to load
	buf   uint64 // bit buffer, least significant bit first
	nbits uint   // bits in buf, including padding
	pad   uint   // zero bits appended past the end of in
}

// fill tops the bit buffer up, with zero bits past the end of the input
// (which are only ever peeked: consuming them is an error).
func (f *inflateState) fill() {
	for f.nbits <= 56 {
		if f.pos < len(f.in) {
			f.buf |= uint64(f.in[f.pos]) << f.nbits
			f.pos++
		} else {
			f.pad += 8
		}
		f.nbits += 8
	}
}

// consume drops n bits; false when that reaches into the padding.
func (f *inflateState) consume(n uint) bool {
	f.buf >>= n
	f.nbits -= n
	return f.nbits >= f.pad
}

func (f *inflateState) bits(n uint) (uint32, bool) {
	if f.nbits < n {
		f.fill()
	}
	v := uint32(f.buf & (1<<n - 1))
	return v, f.consume(n)
}

func (f *inflateState) stored(out []byte, limit int) ([]byte, bool) {
	// Skip to a byte boundary, then LEN and NLEN.
	if !f.consume(f.nbits % 8) {
		return nil, false
	}
	n, ok1 := f.bits(16)
	nn, ok2 := f.bits(16)
	if !ok1 || !ok2 || uint16(n) != ^uint16(nn) {
		return nil, false
	}
	// Whole bytes still buffered come first, then the input.
	for ; n > 0 && f.nbits-f.pad >= 8; n-- {
		out = append(out, byte(f.buf))
		f.consume(8)
	}
	if n == 0 {
		return out, len(out) <= limit
	}
	if f.nbits != f.pad || f.pos+int(n) > len(f.in) {
		return nil, false
	}
	out = append(out, f.in[f.pos:f.pos+int(n)]...)
	f.pos += int(n)
	f.buf, f.nbits, f.pad = 0, 0, 0
	return out, len(out) <= limit
}

const (
	huffFastBits = 10
	maxCodeBits  = 15
)

// huffTable decodes a canonical Huffman code: codes of up to huffFastBits
// bits by one lookup (entry = symbol<<4 | length, 0 when longer or
// invalid), longer ones bit by bit from the counts.
type huffTable struct {
	fastBits uint // lookup width in use, at most huffFastBits
	fast     [1 << huffFastBits]uint16
	count    [maxCodeBits + 1]uint16
	symbols  [288]uint16
}

// build makes the table for the code lengths; like compress/flate it
// accepts only complete codes, an empty one (which fails when used) and a
// single one-bit code.
func (h *huffTable) build(lens []uint8, fastBits uint) bool {
	h.fastBits = fastBits
	clear(h.count[:])
	maxLen := 0
	for _, l := range lens {
		h.count[l]++
		maxLen = max(maxLen, int(l))
	}
	h.count[0] = 0
	clear(h.fast[:1<<fastBits])
	if maxLen == 0 {
		return true
	}
	code := 0
	var next [maxCodeBits + 2]int
	var offs [maxCodeBits + 2]int
	for l := 1; l <= maxCodeBits; l++ {
		code = (code + int(h.count[l-1])) << 1
		next[l] = code
		offs[l+1] = offs[l] + int(h.count[l])
	}
	total := 0
	for l := 1; l <= maxCodeBits; l++ {
		total = total<<1 + int(h.count[l])
	}
	if total != 1<<maxCodeBits && !(maxLen == 1 && h.count[1] == 1) {
		return false
	}
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		h.symbols[offs[l]] = uint16(sym)
		offs[l]++
		c := next[l]
		next[l]++
		if uint(l) <= fastBits {
			r := int(bits.Reverse16(uint16(c)) >> (16 - l))
			for j := r; j < 1<<fastBits; j += 1 << l {
				h.fast[j] = uint16(sym)<<4 | uint16(l)
			}
		}
	}
	return true
}

// decode reads one symbol.
func (f *inflateState) decode(h *huffTable) (int, bool) {
	if f.nbits < maxCodeBits {
		f.fill()
	}
	if e := h.fast[f.buf&(1<<h.fastBits-1)]; e != 0 {
		return int(e >> 4), f.consume(uint(e & 15))
	}
	// Canonical decoding, one bit at a time (RFC 1951 §3.2.2).
	code, first, index := 0, 0, 0
	b := f.buf
	for l := 1; l <= maxCodeBits; l++ {
		code |= int(b & 1)
		b >>= 1
		count := int(h.count[l])
		if code-first < count {
			return int(h.symbols[index+code-first]), f.consume(uint(l))
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, false
}

var clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

func (f *inflateState) dynamic(lit, dist *huffTable) bool {
	hlit, ok1 := f.bits(5)
	hdist, ok2 := f.bits(5)
	hclen, ok3 := f.bits(4)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	nlit, ndist := int(hlit)+257, int(hdist)+1
	if nlit > 286 || ndist > 30 {
		return false
	}
	var lens [286 + 30]uint8
	for i := 0; i < int(hclen)+4; i++ {
		v, ok := f.bits(3)
		if !ok {
			return false
		}
		lens[clOrder[i]] = uint8(v)
	}
	var cl huffTable
	if !cl.build(lens[:19], 7) {
		return false
	}
	clear(lens[:19])
	for i := 0; i < nlit+ndist; {
		sym, ok := f.decode(&cl)
		if !ok {
			return false
		}
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return false
			}
			val = lens[i-1]
			n, ok := f.bits(2)
			if !ok {
				return false
			}
			rep = 3 + int(n)
		case 17:
			n, ok := f.bits(3)
			if !ok {
				return false
			}
			rep = 3 + int(n)
		default:
			n, ok := f.bits(7)
			if !ok {
				return false
			}
			rep = 11 + int(n)
		}
		if i+rep > nlit+ndist {
			return false
		}
		for ; rep > 0; rep-- {
			lens[i] = val
			i++
		}
	}
	return lit.build(lens[:nlit], 9) && dist.build(lens[nlit:nlit+ndist], 8)
}

var (
	lenBase   = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

	fixedLit, fixedDist huffTable
)

func init() {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	fixedLit.build(l[:], huffFastBits)
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	// 30 five-bit codes are incomplete; build the table by hand so that
	// the two unused codes stay invalid.
	fixedDist.fastBits = huffFastBits
	for i := range d {
		r := int(bits.Reverse16(uint16(i)) >> 11)
		for j := r; j < 1<<huffFastBits; j += 1 << 5 {
			fixedDist.fast[j] = uint16(i)<<4 | 5
		}
	}
}

// codes decodes a compressed block's symbols up to end-of-block.
func (f *inflateState) codes(out []byte, lit, dist *huffTable, limit int) ([]byte, bool) {
	for {
		sym, ok := f.decode(lit)
		if !ok {
			return nil, false
		}
		switch {
		case sym < 256:
			out = append(out, byte(sym))
			if len(out) > limit {
				return nil, false
			}
			continue
		case sym == 256:
			return out, true
		case sym > 285:
			return nil, false
		}
		sym -= 257
		n, ok := f.bits(uint(lenExtra[sym]))
		if !ok {
			return nil, false
		}
		length := int(lenBase[sym]) + int(n)
		ds, ok := f.decode(dist)
		if !ok || ds >= 30 {
			return nil, false
		}
		n, ok = f.bits(uint(distExtra[ds]))
		if !ok {
			return nil, false
		}
		d := int(distBase[ds]) + int(n)
		if d > len(out) || len(out)+length > limit {
			return nil, false
		}
		start := len(out) - d
		if d >= length {
			out = append(out, out[start:start+length]...)
			continue
		}
		for i := 0; i < length; i++ {
			out = append(out, out[start+i])
		}
	}
}
