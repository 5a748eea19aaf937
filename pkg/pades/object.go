package pades

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
)

// The PDF object model used by the lazy reader and the revision writer.
// Integers are int64, reals read from a file decimal (reals we create
// float64), booleans bool and null nil.
type (
	name   string
	dict   map[name]any
	array  []any
	ref    struct{ num, gen int }
	pdfstr []byte // literal or hexadecimal string, as bytes
	// stream is a stream object: its dictionary and where its data starts.
	stream struct {
		dict   dict
		offset int64 // absolute offset of the first data byte
	}
)

// decimal is a real number read from a file: its value, and its token, which
// the writer copies byte for byte.
type decimal struct {
	v   float64
	src string
}

// number returns the value of an integer or real object.
func number(o any) (float64, bool) {
	switch v := o.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case decimal:
		return v.v, true
	}
	return 0, false
}

func (d dict) name(k name) name {
	n, _ := d[k].(name)
	return n
}

func (r ref) String() string { return fmt.Sprintf("%d %d R", r.num, r.gen) }

// writeObject serialises o in PDF syntax. Dictionary keys are sorted (with
// /Type first) so output is deterministic.
func writeObject(buf *bytes.Buffer, o any) {
	switch v := o.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case int:
		buf.WriteString(strconv.Itoa(v))
	case int64:
		var b [20]byte
		buf.Write(strconv.AppendInt(b[:0], v, 10))
	case float64:
		var b [32]byte
		buf.Write(appendReal(b[:0], v))
	case decimal:
		buf.WriteString(v.src)
	case name:
		writeName(buf, v)
	case pdfstr:
		writeString(buf, v)
	case ref:
		writeRef(buf, v)
	case array:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(' ')
			}
			writeObject(buf, e)
		}
		buf.WriteByte(']')
	case dict:
		buf.WriteString("<<")
		var kb [16]name
		keys := kb[:0]
		for k := range v {
			keys = append(keys, k)
		}
		sortKeys(keys)
		for _, k := range keys {
			writeName(buf, k)
			buf.WriteByte(' ')
			writeObject(buf, v[k])
		}
		buf.WriteString(">>")
	case rawPDF:
		buf.WriteString(string(v))
	default:
		panic(fmt.Sprintf("pades: cannot write %T", o))
	}
}

// sortKeys orders dictionary keys with /Type first, then by byte value.
// Dictionaries are small: an insertion sort beats a general one here.
func sortKeys(keys []name) {
	less := func(a, b name) bool {
		if a == "Type" || b == "Type" {
			return a == "Type" && b != "Type"
		}
		return a < b
	}
	if len(keys) > 16 {
		slices.SortFunc(keys, func(a, b name) int {
			switch {
			case a == b:
				return 0
			case less(a, b):
				return -1
			}
			return 1
		})
		return
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && less(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

// writeRef writes "num gen R".
func writeRef(buf *bytes.Buffer, r ref) {
	var b [48]byte
	n := strconv.AppendInt(b[:0], int64(r.num), 10)
	n = append(n, ' ')
	n = strconv.AppendInt(n, int64(r.gen), 10)
	n = append(n, " R"...)
	buf.Write(n)
}

// rawPDF is pre-formatted PDF syntax written as is.
type rawPDF string

func formatReal(f float64) string {
	s := strconv.FormatFloat(f, 'f', 4, 64)
	s = trimZeros(s)
	if s == "-0" {
		return "0"
	}
	return s
}

// appendReal appends formatReal(f) to dst.
func appendReal(dst []byte, f float64) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', 4, 64)
	s := dst[start:]
	if bytes.IndexByte(s, '.') >= 0 {
		for len(s) > 0 && s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		if len(s) > 0 && s[len(s)-1] == '.' {
			s = s[:len(s)-1]
		}
	}
	if string(s) == "-0" {
		s = append(s[:0], '0')
	}
	return dst[:start+len(s)]
}

func trimZeros(s string) string {
	if !bytes.ContainsRune([]byte(s), '.') {
		return s
	}
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

func writeName(buf *bytes.Buffer, n name) {
	buf.WriteByte('/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || isDelimiter(c) || c == '#' {
			fmt.Fprintf(buf, "#%02X", c)
		} else {
			buf.WriteByte(c)
		}
	}
}

func writeString(buf *bytes.Buffer, s []byte) {
	buf.WriteByte('(')
	for _, c := range s {
		switch c {
		case '(', ')', '\\':
			buf.WriteByte('\\')
			buf.WriteByte(c)
		case '\r':
			buf.WriteString(`\r`)
		default:
			buf.WriteByte(c)
		}
	}
	buf.WriteByte(')')
}
