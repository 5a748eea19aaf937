package pades

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/vellum-sign/vellum/pkg/pdfsyntax"
)

// parser reads PDF objects from an in-memory window of the file. When an
// object runs past the end of a window that is not the end of the file,
// errShort tells the caller to retry with a larger window.
type parser struct {
	buf   []byte
	pos   int
	final bool // buf reaches the end of the data: running out is a syntax error
}

var errShort = errors.New("pades: object exceeds read window")

const maxDepth = 64 // nesting of arrays and dictionaries

func isWhite(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (p *parser) eof() error {
	if p.final {
		return fmt.Errorf("pades: unexpected end of data at %d", p.pos)
	}
	return errShort
}

func (p *parser) skipSpace() {
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		if isWhite(c) {
			p.pos++
		} else if c == '%' {
			for p.pos < len(p.buf) && p.buf[p.pos] != '\n' && p.buf[p.pos] != '\r' {
				p.pos++
			}
		} else {
			return
		}
	}
}

// keyword reads a run of regular characters (a keyword or number).
func (p *parser) keyword() []byte {
	start := p.pos
	for p.pos < len(p.buf) && !isWhite(p.buf[p.pos]) && !isDelimiter(p.buf[p.pos]) {
		p.pos++
	}
	return p.buf[start:p.pos]
}

// expect consumes keyword kw after optional whitespace.
func (p *parser) expect(kw string) error {
	p.skipSpace()
	start := p.pos
	got := p.keyword()
	if p.pos == len(p.buf) && !p.final {
		return errShort
	}
	if string(got) != kw {
		return fmt.Errorf("pades: expected %q at %d, found %q", kw, start, truncate(got))
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 20 {
		b = b[:20]
	}
	return string(b)
}

// object parses one direct object; "R" references are recognised.
func (p *parser) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("pades: objects nested deeper than %d", maxDepth)
	}
	p.skipSpace()
	if p.pos >= len(p.buf) {
		return nil, p.eof()
	}
	switch c := p.buf[p.pos]; c {
	case '/':
		return p.name()
	case '(':
		return p.literalString()
	case '<':
		if p.pos+1 >= len(p.buf) {
			return nil, p.eof()
		}
		if p.buf[p.pos+1] == '<' {
			return p.dictionary(depth)
		}
		return p.hexString()
	case '[':
		p.pos++
		arr := make(array, 0, 4)
		for {
			p.skipSpace()
			if p.pos >= len(p.buf) {
				return nil, p.eof()
			}
			if p.buf[p.pos] == ']' {
				p.pos++
				return arr, nil
			}
			o, err := p.object(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, o)
		}
	case ')', '>', ']', '{', '}':
		return nil, fmt.Errorf("pades: unexpected %q at %d", c, p.pos)
	}
	start := p.pos
	kw := p.keyword()
	if p.pos == len(p.buf) && !p.final {
		return nil, errShort
	}
	switch string(kw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if len(kw) == 0 {
		return nil, fmt.Errorf("pades: unexpected byte %q at %d", p.buf[start], start)
	}
	if n, ok := parseInt(kw, 64); ok {
		// "num gen R" is a reference; look ahead without committing.
		save := p.pos
		p.skipSpace()
		gstart := p.pos
		g := p.keyword()
		if gen, ok := parseInt(g, 32); ok && g[0] != '+' && g[0] != '-' {
			p.skipSpace()
			if p.pos < len(p.buf) && p.buf[p.pos] == 'R' && (p.pos+1 == len(p.buf) || isWhite(p.buf[p.pos+1]) || isDelimiter(p.buf[p.pos+1])) {
				p.pos++
				if n < 0 || n > 1<<31 || gen < 0 {
					return nil, fmt.Errorf("pades: bad reference at %d", start)
				}
				return ref{int(n), int(gen)}, nil
			}
			if p.pos >= len(p.buf) && !p.final {
				return nil, errShort
			}
		} else if gstart >= len(p.buf) && !p.final {
			return nil, errShort
		}
		p.pos = save
		return n, nil
	}
	if f, err := parseReal(kw); err == nil {
		// The token is kept so that a rewritten dictionary carries the
		// number exactly as it was (a page's /MediaBox, say).
		return decimal{v: f, src: string(kw)}, nil
	}
	return nil, fmt.Errorf("pades: unexpected token %q at %d", truncate(kw), start)
}

// parseInt is strconv.ParseInt(string(b), 10, bits) without its
// allocations: an optional sign, then decimal digits, within range.
func parseInt(b []byte, bits uint) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	limit := uint64(1)<<(bits-1) - 1
	if neg {
		limit++
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// parseReal accepts PDF reals ("-.5", "3.", "+1.25") and nothing exotic.
func parseReal(b []byte) (float64, error) {
	if len(b) == 0 || len(b) > 64 {
		return 0, errors.New("bad real")
	}
	for i, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || (i == 0 && (c == '-' || c == '+'))) {
			// Some producers write "--5" or "1.2.3"; treat as 0 like other readers.
			return 0, errors.New("bad real")
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, err
	}
	return f, nil
}

func (p *parser) name() (name, error) {
	p.pos++ // '/'
	start := p.pos
	var out []byte
	for p.pos < len(p.buf) && !isWhite(p.buf[p.pos]) && !isDelimiter(p.buf[p.pos]) {
		c := p.buf[p.pos]
		if c == '#' && p.pos+2 < len(p.buf) {
			if v, err := strconv.ParseUint(string(p.buf[p.pos+1:p.pos+3]), 16, 8); err == nil {
				if out == nil {
					out = append([]byte{}, p.buf[start:p.pos]...)
				}
				out = append(out, byte(v))
				p.pos += 3
				continue
			}
		}
		if out != nil {
			out = append(out, c)
		}
		p.pos++
	}
	if p.pos == len(p.buf) && !p.final {
		return "", errShort
	}
	if out != nil {
		return name(out), nil
	}
	if n, ok := commonNames[string(p.buf[start:p.pos])]; ok {
		return n, nil // no allocation for the names the signer reads most
	}
	return name(p.buf[start:p.pos]), nil
}

// commonNames interns the names of the structures the signer reads: the
// trailer, cross-reference and object streams, the catalog and page tree.
var commonNames = func() map[string]name {
	m := map[string]name{}
	for _, n := range []name{"Type", "Subtype", "Length", "Filter", "FlateDecode", "DecodeParms", "Predictor", "Columns",
		"Size", "Root", "Info", "ID", "Prev", "Encrypt", "XRef", "XRefStm", "W", "Index", "ObjStm", "N", "First",
		"Catalog", "Pages", "Page", "Kids", "Count", "Parent", "Resources", "MediaBox", "CropBox", "Contents",
		"Annots", "AcroForm", "Fields", "SigFlags", "Perms", "Metadata", "Outlines", "Names", "MarkInfo", "Marked",
		"Lang", "ViewerPreferences", "PageLayout", "PageMode", "StructTreeRoot", "Font", "XObject", "ExtGState",
		"ColorSpace", "ProcSet", "PDF", "Text", "ImageB", "ImageC", "Rotate", "Group", "Tabs", "Linearized", "DA", "DR"} {
		m[string(n)] = n
	}
	return m
}()

func (p *parser) literalString() (pdfstr, error) {
	out, next, closed := pdfsyntax.Literal(p.buf, p.pos+1) // after '('
	p.pos = next
	if !closed {
		return nil, p.eof()
	}
	return out, nil
}

func (p *parser) hexString() (pdfstr, error) {
	out, next, closed, bad := pdfsyntax.Hex(p.buf, p.pos+1) // after '<'
	if bad >= 0 {
		p.pos = bad + 1
		return nil, fmt.Errorf("pades: bad hex string byte %q at %d", p.buf[bad], bad)
	}
	p.pos = next
	if !closed {
		return nil, p.eof()
	}
	return out, nil
}

func (p *parser) dictionary(depth int) (dict, error) {
	p.pos += 2 // "<<"
	d := dict{}
	for {
		p.skipSpace()
		if p.pos+1 >= len(p.buf) {
			return nil, p.eof()
		}
		if p.buf[p.pos] == '>' && p.buf[p.pos+1] == '>' {
			p.pos += 2
			return d, nil
		}
		if p.buf[p.pos] != '/' {
			return nil, fmt.Errorf("pades: dictionary key expected at %d", p.pos)
		}
		k, err := p.name()
		if err != nil {
			return nil, err
		}
		v, err := p.object(depth + 1)
		if err != nil {
			return nil, err
		}
		if v != nil { // a null value is the same as an absent key
			d[k] = v
		}
	}
}
