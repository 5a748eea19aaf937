package pades

import (
	"fmt"
	"time"
	"unicode/utf16"
)

// textString encodes s as a PDF text string (§7.9.2.2): PDFDocEncoding when
// it is printable ASCII, UTF-16BE with a byte order mark otherwise.
func textString(s string) pdfstr {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || (s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') {
			ascii = false
			break
		}
	}
	if ascii {
		return pdfstr(s)
	}
	out := []byte{0xFE, 0xFF}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// decodeText decodes a PDF text string to UTF-8 (UTF-16BE with BOM, UTF-8
// with BOM, or PDFDocEncoding treated as Latin-1).
func decodeText(b []byte) string {
	if len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF {
		u := make([]uint16, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	}
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return string(b[3:])
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// pdfDate formats t as a PDF date (§7.9.4): D:YYYYMMDDHHmmSS+HH'mm'.
func pdfDate(t time.Time) pdfstr {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	if off == 0 {
		return pdfstr(t.Format("D:20060102150405") + "Z")
	}
	return pdfstr(fmt.Sprintf("%s%c%02d'%02d'", t.Format("D:20060102150405"), sign, off/3600, off/60%60))
}

// parsePDFDate parses the common forms of PDF dates; zero time on failure.
func parsePDFDate(s string) time.Time {
	if len(s) >= 2 && s[:2] == "D:" {
		s = s[2:]
	}
	if len(s) < 14 {
		return time.Time{}
	}
	t, err := time.Parse("20060102150405", s[:14])
	if err != nil {
		return time.Time{}
	}
	rest := s[14:]
	if len(rest) >= 3 && (rest[0] == '+' || rest[0] == '-') {
		var hh, mm int
		fmt.Sscanf(rest[1:3], "%d", &hh)
		if len(rest) >= 6 {
			fmt.Sscanf(rest[4:6], "%d", &mm)
		}
		off := hh*3600 + mm*60
		if rest[0] == '-' {
			off = -off
		}
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone("", off))
	}
	return t
}
