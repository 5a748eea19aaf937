package pades

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// parseInt must accept exactly what strconv.ParseInt(s, 10, bits) accepts.
func TestParseIntMatchesStrconv(t *testing.T) {
	cases := []string{"", "+", "-", "0", "-0", "+7", "12", "007", "1_000", "1.5", "1e3", "--1", "+-1", " 1", "R",
		"2147483647", "2147483648", "-2147483648", "-2147483649",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"99999999999999999999", "0000000000000000000000000001"}
	for _, s := range cases {
		for _, bits := range []uint{32, 64} {
			want, err := strconv.ParseInt(s, 10, int(bits))
			got, ok := parseInt([]byte(s), bits)
			if ok != (err == nil) || (ok && got != want) {
				t.Errorf("parseInt(%q, %d) = %d, %v; strconv: %d, %v", s, bits, got, ok, want, err)
			}
		}
	}
}

func FuzzParseInt(f *testing.F) {
	f.Add("123", uint8(64))
	f.Fuzz(func(t *testing.T, s string, b uint8) {
		bits := uint(32)
		if b%2 == 0 {
			bits = 64
		}
		want, err := strconv.ParseInt(s, 10, int(bits))
		got, ok := parseInt([]byte(s), bits)
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseInt(%q, %d) = %d, %v; strconv: %d, %v", s, bits, got, ok, want, err)
		}
	})
}

// The fixed-format fast path of readTable must agree with the tokenizer on
// tables that mix standard 20-byte entries with sloppy ones.
func TestReadTableMixedEntries(t *testing.T) {
	table := "xref\n0 6\n" +
		"0000000000 65535 f\r\n" + // standard
		"0000000100 00000 n \n" + // standard, space + LF
		"0000000200 00001 n\n" + // 19 bytes: tokenizer
		"300 0 n\r\n" + // short: tokenizer
		"0000000400 00000 n\r" + // CR only, then a comment
		"%c\n" +
		"0000099999 00000 n\r\n" + // beyond the file: missing
		"trailer\n<< /Size 6 /Root 1 0 R >>\n"
	data := []byte(strings.Repeat(" ", 500) + table)
	d := &document{r: bytes.NewReader(data), size: int64(len(data))}
	entries, trailer, err := d.readTable(500)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]xrefEntry{0: {}, 1: {kind: 1, off: 100}, 2: {kind: 1, off: 200, gen: 1}, 3: {kind: 1, off: 300}, 4: {kind: 1, off: 400}, 5: {}}
	if !maps.Equal(entries, want) {
		t.Errorf("entries = %v, want %v", entries, want)
	}
	if trailer["Size"] != int64(6) {
		t.Errorf("trailer = %v", trailer)
	}
}

// A table larger than the first window is read whole in one more pass.
func TestReadTableLarge(t *testing.T) {
	const n = 5000
	var b strings.Builder
	b.WriteString("xref\n0 " + strconv.Itoa(n) + "\n")
	for i := range n {
		fmt.Fprintf(&b, "%010d %05d n\r\n", 10+i, 0)
	}
	b.WriteString("trailer\n<< /Size 5000 >>\n")
	data := []byte(b.String())
	d := &document{r: bytes.NewReader(data), size: int64(len(data))}
	entries, _, err := d.readTable(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n || entries[n-1] != (xrefEntry{kind: 1, off: 10 + n - 1}) {
		t.Errorf("%d entries, last %v", len(entries), entries[n-1])
	}
}

// sortKeys orders like the comparator it replaced, for small and large
// dictionaries alike.
func TestSortKeys(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, 16, 17, 40} {
		var keys []name
		for i := range n {
			keys = append(keys, name(strconv.Itoa((i*7919)%97)))
		}
		if n > 3 {
			keys[n/2] = "Type"
		}
		want := slices.Clone(keys)
		sort.Slice(want, func(i, j int) bool {
			if want[i] == "Type" || want[j] == "Type" {
				return want[i] == "Type"
			}
			return want[i] < want[j]
		})
		sortKeys(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("n=%d: %v, want %v", n, keys, want)
		}
	}
}
