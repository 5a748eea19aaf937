package pdfsyntax

import (
	"bytes"
	"testing"
)

func TestLiteral(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		next     int
		closed   bool
	}{
		{`a(b)c) tail`, "a(b)c", 6, true},
		{`\n\r\t\b\f\(\)\\) `, "\n\r\t\b\f()\\", 17, true},
		{"line\\\r\ncont)", "linecont", 12, true},
		{`\101\60\0011)`, "A0\x011", 13, true},
		{`\q)`, "q", 3, true},
		{`open`, "open", 4, false},
		{`ends in \`, "ends in ", 9, false},
	} {
		out, next, closed := Literal([]byte(tc.in), 0)
		if string(out) != tc.want || next != tc.next || closed != tc.closed {
			t.Errorf("Literal(%q) = %q, %d, %v; want %q, %d, %v", tc.in, out, next, closed, tc.want, tc.next, tc.closed)
		}
	}
	if out, _, _ := Literal([]byte(")"), 0); out == nil {
		t.Error("an empty string came back nil")
	}
}

func TestHex(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   []byte
		next   int
		closed bool
		bad    int
	}{
		{"48 65\n6C6c6F> x", []byte("Hello"), 13, true, -1},
		{"414>", []byte{0x41, 0x40}, 4, true, -1},
		{"41zz42>", []byte("AB"), 7, true, 2},
		{"4142", []byte("AB"), 4, false, -1},
		{">", []byte{}, 1, true, -1},
	} {
		out, next, closed, bad := Hex([]byte(tc.in), 0)
		if !bytes.Equal(out, tc.want) || next != tc.next || closed != tc.closed || bad != tc.bad {
			t.Errorf("Hex(%q) = %q, %d, %v, %d; want %q, %d, %v, %d", tc.in, out, next, closed, bad, tc.want, tc.next, tc.closed, tc.bad)
		}
	}
}

func FuzzStrings(f *testing.F) {
	for _, s := range []string{`a(b)c)`, `\101)`, "48 65>", "4zz>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, next, _ := Literal(b, 0); next < 0 || next > len(b) {
			t.Fatalf("Literal next %d of %d", next, len(b))
		}
		out, next, _, bad := Hex(b, 0)
		if next < 0 || next > len(b) || bad >= next || len(out) > len(b)/2+1 {
			t.Fatalf("Hex next %d bad %d out %d of %d", next, bad, len(out), len(b))
		}
	})
}
