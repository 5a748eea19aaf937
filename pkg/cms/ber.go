package cms

import (
	"errors"
	"fmt"
)

// maxBERDepth bounds the nesting of a BER structure; CMS needs about 15.
const maxBERDepth = 64

var errBER = errors.New("cms: malformed BER")

// toDER re-encodes the first BER element of b as DER and returns it with the
// bytes that follow it. Other tools (openssl cms -stream, some PDF signers)
// write SignedData with indefinite lengths and constructed (chunked) OCTET
// STRINGs; openssl, pdfsig and pdfcpu accept those, so we do too. Only the
// encoding of lengths and of constructed strings changes: elements keep their
// order (SET OF is not re-sorted), which is what verifiers compute the
// signature over, so a signature over signed attributes that arrived in BER
// verifies as openssl verifies it. Already-DER input comes back unchanged.
func toDER(b []byte) (der, rest []byte, err error) {
	var p berParser
	p.in = b
	out, err := p.element(nil, 0)
	if err != nil {
		return nil, nil, err
	}
	return out, b[p.pos:], nil
}

type berParser struct {
	in  []byte
	pos int
}

// header reads an identifier and a length. length is -1 for the indefinite
// form. ident is the identifier octets as they appear (high tag numbers
// included).
func (p *berParser) header() (ident []byte, constructed bool, class byte, tag int, length int, err error) {
	start := p.pos
	if p.pos >= len(p.in) {
		return nil, false, 0, 0, 0, errBER
	}
	b0 := p.in[p.pos]
	p.pos++
	constructed = b0&0x20 != 0
	class = b0 >> 6
	tag = int(b0 & 0x1f)
	if tag == 0x1f { // high tag number form: base-128, at most 4 octets
		tag = 0
		for i := 0; ; i++ {
			if p.pos >= len(p.in) || i == 4 {
				return nil, false, 0, 0, 0, errBER
			}
			c := p.in[p.pos]
			p.pos++
			tag = tag<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	ident = p.in[start:p.pos]
	if p.pos >= len(p.in) {
		return nil, false, 0, 0, 0, errBER
	}
	l := p.in[p.pos]
	p.pos++
	switch {
	case l < 0x80:
		length = int(l)
	case l == 0x80:
		if !constructed {
			return nil, false, 0, 0, 0, fmt.Errorf("%w: indefinite length on a primitive element", errBER)
		}
		length = -1
	default:
		n := int(l & 0x7f)
		if n > 4 || p.pos+n > len(p.in) {
			return nil, false, 0, 0, 0, fmt.Errorf("%w: length too long", errBER)
		}
		for i := 0; i < n; i++ {
			length = length<<8 | int(p.in[p.pos+i])
		}
		p.pos += n
	}
	if length > len(p.in)-p.pos {
		return nil, false, 0, 0, 0, fmt.Errorf("%w: length beyond the data", errBER)
	}
	return ident, constructed, class, tag, length, nil
}

// isString reports whether a universal tag is a string type that BER may
// send in constructed (segmented) form and DER only as primitive.
func isString(tag int) bool {
	switch tag {
	case 4, // OCTET STRING
		12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 30: // character strings
		return true
	}
	return false
}

// element appends the DER form of the element at p.pos to dst.
func (p *berParser) element(dst []byte, depth int) ([]byte, error) {
	if depth > maxBERDepth {
		return nil, fmt.Errorf("%w: nested too deeply", errBER)
	}
	ident, constructed, class, tag, length, err := p.header()
	if err != nil {
		return nil, err
	}
	if !constructed {
		end := p.pos + length
		dst = appendHeader(dst, ident, length)
		dst = append(dst, p.in[p.pos:end]...)
		p.pos = end
		return dst, nil
	}
	if class == 0 && tag == 3 {
		// A constructed BIT STRING would need its unused-bit counts merged;
		// no CMS producer writes one.
		return nil, fmt.Errorf("%w: constructed BIT STRING", errBER)
	}
	merge := class == 0 && isString(tag)
	var body []byte
	end := -1
	if length >= 0 {
		end = p.pos + length
	}
	for {
		if end >= 0 {
			if p.pos == end {
				break
			}
			if p.pos > end {
				return nil, fmt.Errorf("%w: element overruns its parent", errBER)
			}
		} else {
			if p.pos+1 < len(p.in) && p.in[p.pos] == 0 && p.in[p.pos+1] == 0 {
				p.pos += 2 // end-of-contents
				break
			}
			if p.pos >= len(p.in) {
				return nil, fmt.Errorf("%w: missing end-of-contents", errBER)
			}
		}
		if merge {
			// Segments of a constructed string are strings of the same type;
			// their contents are concatenated.
			seg, err := p.element(nil, depth+1)
			if err != nil {
				return nil, err
			}
			if len(seg) == 0 || seg[0]&0x1f != byte(tag) || seg[0]&0xc0 != 0 {
				return nil, fmt.Errorf("%w: bad string segment", errBER)
			}
			body = append(body, seg[headerLen(seg):]...)
			continue
		}
		if body, err = p.element(body, depth+1); err != nil {
			return nil, err
		}
	}
	if merge {
		prim := []byte{ident[0] &^ 0x20} // same tag, primitive
		dst = appendHeader(dst, prim, len(body))
	} else {
		dst = appendHeader(dst, ident, len(body))
	}
	return append(dst, body...), nil
}

// appendHeader appends the identifier and the minimal definite length.
func appendHeader(dst, ident []byte, n int) []byte {
	dst = append(dst, ident...)
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n < 1<<8:
		return append(dst, 0x81, byte(n))
	case n < 1<<16:
		return append(dst, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// headerLen is the length of the identifier and length octets of a DER
// element whose tag number is low (below 31).
func headerLen(der []byte) int {
	if len(der) < 2 || der[1] < 0x80 {
		return 2
	}
	return 2 + int(der[1]&0x7f)
}
