package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// ErrDamagedSigned refuses a file whose cross-reference data is damaged
// and which carries signatures: repairing it means rewriting it, which
// breaks every signature, so it cannot get another one. Its code is
// UNMODIFIABLE.
var ErrDamagedSigned = &Error{Code: CodeUnmodifiable, Msg: "the file's cross-reference data is damaged and it carries signatures," +
	" which rewriting it to repair it would invalidate; ask the sender for an undamaged copy"}

// maxRepair is the largest damaged file reconstructed: reconstruction reads
// the whole file into memory.
const maxRepair = 256 << 20

// healthy reports whether the cross-reference data leads to the objects
// signing needs: the catalog, the page tree and its first page. Broken
// offsets show here even when the table itself parses.
func (d *document) healthy() error {
	if _, err := d.pageCount(); err != nil {
		return err
	}
	if _, _, err := d.page(1); err != nil {
		return err
	}
	return nil
}

// reconstruct rebuilds the cross-reference data of a damaged file by
// scanning it for "num gen obj" headers, as qpdf, pdf.js and Acrobat do: a
// later definition of a number wins, objects inside object streams count
// where no plain definition exists, and the trailer is the last one that
// names a catalog (or, failing that, the catalog found by its /Type).
func reconstruct(r io.ReaderAt, size int64) (*document, error) {
	if size < 16 {
		return nil, errors.New("file too small to be a PDF")
	}
	if size > maxRepair {
		return nil, fmt.Errorf("damaged file of %d bytes is larger than the %d bytes reconstruction reads", size, int64(maxRepair))
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) < size {
		return nil, fmt.Errorf("read damaged file: %w", err)
	}
	if !bytes.Contains(data[:min(len(data), 1024)], []byte("%PDF-")) {
		return nil, errors.New("no %PDF- header: not a PDF file")
	}
	d := &document{r: bytes.NewReader(data), size: size, xref: map[int]xrefEntry{}, objstms: map[int]*objStream{}, maxNum: -1}
	for i := 0; i < len(data); {
		j := bytes.Index(data[i:], []byte("obj"))
		if j < 0 {
			break
		}
		pos := i + j
		i = pos + 3
		if pos+3 < len(data) && !isWhite(data[pos+3]) && !isDelimiter(data[pos+3]) {
			continue
		}
		num, gen, start, ok := headerBefore(data, pos)
		if !ok {
			continue
		}
		d.xref[num] = xrefEntry{kind: 1, off: int64(start), gen: gen}
		d.maxNum = max(d.maxNum, num)
	}
	if len(d.xref) == 0 {
		return nil, errors.New("no objects found")
	}
	// Objects inside object streams, where no plain definition exists.
	var catalogs []int
	for _, num := range slices.Sorted(mapsKeys(d.xref)) {
		e := d.xref[num]
		head := data[e.off:min(int64(len(data)), e.off+512)]
		switch {
		case bytes.Contains(head, []byte("/ObjStm")):
			o, err := d.indirectAt(e.off, num)
			s, isStream := o.(stream)
			if err != nil || !isStream || s.dict.name("Type") != "ObjStm" {
				continue
			}
			raw, err := d.streamData(s, true)
			if err != nil {
				continue
			}
			n, _ := s.dict["N"].(int64)
			first, _ := s.dict["First"].(int64)
			if n <= 0 || first <= 0 || first > int64(len(raw)) {
				continue
			}
			p := &parser{buf: raw[:first], final: true}
			for k := int64(0); k < n && k < 1<<20; k++ {
				on, ok1 := p.plainInt()
				_, ok2 := p.plainInt()
				if !ok1 || !ok2 || on < 0 || on > 1<<22 {
					break
				}
				if _, defined := d.xref[int(on)]; !defined {
					d.xref[int(on)] = xrefEntry{kind: 2, off: int64(num), gen: int(k)}
					d.maxNum = max(d.maxNum, int(on))
				}
			}
		case bytes.Contains(head, []byte("/Catalog")):
			catalogs = append(catalogs, num)
		}
	}
	d.trailer = findTrailer(d, data)
	if _, ok := d.trailer["Root"].(ref); !ok {
		for _, num := range slices.Backward(catalogs) {
			if c, err := d.resolveDict(ref{num, 0}); err == nil && c.name("Type") == "Catalog" {
				d.trailer["Root"] = ref{num, d.xref[num].gen}
				break
			}
		}
	}
	if _, ok := d.trailer["Root"].(ref); !ok {
		return nil, errors.New("no document catalog found")
	}
	d.nextNum = d.maxNum + 1
	return d, nil
}

func mapsKeys(m map[int]xrefEntry) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// headerBefore parses "num gen " backwards from the "obj" at pos.
func headerBefore(data []byte, pos int) (num, gen, start int, ok bool) {
	k := pos
	skipWhite := func() bool {
		n := 0
		for k > 0 && isWhite(data[k-1]) {
			k--
			n++
		}
		return n > 0
	}
	digits := func() (int, bool) {
		end := k
		for k > 0 && data[k-1] >= '0' && data[k-1] <= '9' && end-k < 10 {
			k--
		}
		if k == end {
			return 0, false
		}
		v, err := strconv.Atoi(string(data[k:end]))
		return v, err == nil
	}
	if !skipWhite() {
		return 0, 0, 0, false
	}
	g, okG := digits()
	if !okG || !skipWhite() {
		return 0, 0, 0, false
	}
	n, okN := digits()
	if !okN || (k > 0 && !isWhite(data[k-1]) && !isDelimiter(data[k-1])) || g > 65535 {
		return 0, 0, 0, false
	}
	return n, g, k, true
}

// findTrailer returns the newest trailer dictionary (a "trailer" keyword's,
// or a cross-reference stream's) that names a catalog present in d; an
// empty dictionary when none does.
func findTrailer(d *document, data []byte) dict {
	valid := func(t dict) bool {
		r, ok := t["Root"].(ref)
		if !ok {
			return false
		}
		c, err := d.resolveDict(r)
		return err == nil && c != nil
	}
	var best dict
	bestAt := -1
	for i := len(data); ; {
		j := bytes.LastIndex(data[:i], []byte("trailer"))
		if j < 0 {
			break
		}
		i = j
		p := &parser{buf: data[j+len("trailer"):], final: true}
		if o, err := p.object(0); err == nil {
			if t, ok := o.(dict); ok && valid(t) {
				best, bestAt = t, j
				break
			}
		}
	}
	for num, e := range d.xref {
		if e.kind != 1 || int(e.off) < bestAt {
			continue
		}
		head := data[e.off:min(int64(len(data)), e.off+512)]
		if !bytes.Contains(head, []byte("/XRef")) {
			continue
		}
		if o, err := d.indirectAt(e.off, num); err == nil {
			if s, ok := o.(stream); ok && s.dict.name("Type") == "XRef" && valid(s.dict) && int(e.off) > bestAt {
				best, bestAt = s.dict, int(e.off)
			}
		}
	}
	out := dict{}
	for _, k := range []name{"Root", "Info", "ID", "Encrypt"} {
		if v, ok := best[k]; ok {
			out[k] = v
		}
	}
	return out
}

// Rewrite returns a clean copy of a PDF whose cross-reference data is
// damaged, reconstructed as Sign reconstructs it, for readers that cannot
// open the damaged file (text extraction, say). Signatures in the file do
// not survive in the copy: Sign refuses such files instead.
func Rewrite(r io.ReaderAt, size int64) ([]byte, error) {
	d, err := reconstruct(r, size)
	if err != nil {
		return nil, fmt.Errorf("pades: reconstruct: %w", err)
	}
	defer d.release()
	return rewrite(d)
}

// repair reconstructs a damaged file and rewrites it cleanly; files that
// must not be rewritten are refused with an *Error.
func repair(r io.ReaderAt, size int64) ([]byte, error) {
	d, err := reconstruct(r, size)
	if err != nil {
		return nil, err
	}
	defer d.release()
	if err := repairable(d); err != nil {
		return nil, err
	}
	return rewrite(d)
}

// repairable refuses what a rewrite must not touch: encrypted files and
// files with signatures.
func repairable(d *document) error {
	if d.trailer["Encrypt"] != nil {
		return ErrEncrypted
	}
	sigs, err := d.signatures()
	if err != nil {
		return codeErr(CodeUnknownError, err, "cannot read the form of the damaged file")
	}
	if len(sigs) > 0 {
		return ErrDamagedSigned
	}
	return nil
}

// rewrite writes the reconstructed document as a clean file: every object
// once, streams with their raw data and a correct /Length, objects from
// object streams as plain objects, one cross-reference table.
func rewrite(d *document) ([]byte, error) {
	var b bytes.Buffer
	version := "1.7"
	if head, _, err := d.readAt(0, int(min(1024, d.size))); err == nil {
		if i := bytes.Index(head, []byte("%PDF-")); i >= 0 && i+8 <= len(head) && parseVersion(string(head[i+5:i+8])) > 0 {
			version = string(head[i+5 : i+8])
		}
	}
	b.WriteString("%PDF-" + version + "\n%\xe2\xe3\xcf\xd3\n")
	offsets := map[int]int64{}
	gens := map[int]int{}
	for _, num := range slices.Sorted(mapsKeys(d.xref)) {
		e := d.xref[num]
		o, err := d.object(num)
		if err != nil || o == nil {
			continue // unreadable: dropped, as a reader would not see it either
		}
		gen := 0
		if e.kind == 1 {
			gen = e.gen
		}
		start := int64(b.Len())
		writeObjHeader(&b, num, gen)
		if s, ok := o.(stream); ok {
			if t := s.dict.name("Type"); t == "XRef" || t == "ObjStm" {
				b.Truncate(int(start))
				continue // their contents are written on their own
			}
			raw, err := d.streamData(s, false)
			if err != nil {
				raw = d.rawUntilEndstream(s.offset)
			}
			sd := dict{}
			for k, v := range s.dict {
				sd[k] = v
			}
			sd["Length"] = int64(len(raw))
			writeObject(&b, sd)
			b.WriteString("\nstream\n")
			b.Write(raw)
			b.WriteString("\nendstream\nendobj\n")
		} else {
			writeObject(&b, o)
			b.WriteString("\nendobj\n")
		}
		offsets[num], gens[num] = start, gen
	}
	size := d.maxNum + 1
	xref := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f\r\n")
	_, runs := subsections(slices.Sorted(func(yield func(int) bool) {
		for k := range offsets {
			if !yield(k) {
				return
			}
		}
	}))
	for _, run := range runs {
		fmt.Fprintf(&b, "%d %d\n", run[0], len(run))
		for _, n := range run {
			writeTableEntry(&b, offsets[n], gens[n])
		}
	}
	trailer := dict{"Size": int64(size)}
	for _, k := range []name{"Root", "Info", "ID"} {
		if v, ok := d.trailer[k]; ok {
			trailer[k] = v
		}
	}
	b.WriteString("trailer\n")
	writeObject(&b, trailer)
	fmt.Fprintf(&b, "\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes(), nil
}

// rawUntilEndstream is a stream's data when its /Length is wrong: up to
// the "endstream" keyword, without the end-of-line before it.
func (d *document) rawUntilEndstream(off int64) []byte {
	buf, _, err := d.readAt(off, int(min(d.size-off, maxDecoded)))
	if err != nil {
		return nil
	}
	i := bytes.Index(buf, []byte("endstream"))
	if i < 0 {
		return nil
	}
	raw := buf[:i]
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	raw = bytes.TrimSuffix(raw, []byte("\r"))
	return bytes.Clone(raw)
}
