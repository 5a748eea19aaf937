// Package pdfsyntax decodes the string tokens of PDF syntax (ISO 32000-1
// §7.3.4): literal strings with their escapes and hexadecimal strings.
// The file parser (pkg/pades) and the content-stream reader (pkg/pdftext)
// both meet them; they differ only in what they do with a string that is
// not closed or holds a stray byte, so that is left to them.
package pdfsyntax

// Literal decodes the literal string that starts at buf[pos], just after
// its opening parenthesis: balanced parentheses, the escapes of §7.3.4.2,
// line continuations and octal codes. next is the offset after the closing
// parenthesis (or len(buf)); closed is false when buf ends first. out is
// never nil.
func Literal(buf []byte, pos int) (out []byte, next int, closed bool) {
	out = []byte{}
	depth := 1
	for pos < len(buf) {
		c := buf[pos]
		pos++
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return out, pos, true
			}
		case '\\':
			if pos >= len(buf) {
				return out, pos, false
			}
			e := buf[pos]
			pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if pos < len(buf) && buf[pos] == '\n' {
					pos++
				}
				continue
			case '\n':
				continue
			default:
				if e < '0' || e > '7' {
					c = e
					break
				}
				v := int(e - '0')
				for k := 0; k < 2 && pos < len(buf) && buf[pos] >= '0' && buf[pos] <= '7'; k++ {
					v = v*8 + int(buf[pos]-'0')
					pos++
				}
				c = byte(v)
			}
		}
		out = append(out, c)
	}
	return out, pos, false
}

// Hex decodes the hexadecimal string that starts at buf[pos], just after
// its '<'. White space is skipped and an odd last digit counts as if
// followed by 0. next is the offset after the '>' (or len(buf)); closed is
// false when buf ends first. bad is the offset of the first byte that is
// neither a digit nor white space, or -1; such bytes are skipped. out is
// never nil.
func Hex(buf []byte, pos int) (out []byte, next int, closed bool, bad int) {
	out, bad = []byte{}, -1
	var hi byte
	half := false
	for pos < len(buf) {
		c := buf[pos]
		pos++
		var v byte
		switch {
		case c == '>':
			closed = true
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			if !isWhite(c) && bad < 0 {
				bad = pos - 1
			}
			continue
		}
		if closed {
			break
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out, pos, closed, bad
}

// isWhite reports PDF white space (§7.2.2).
func isWhite(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}
