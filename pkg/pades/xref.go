package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// openDocument reads the cross-reference chain of the PDF in r (ISO 32000
// §7.5.4 tables, §7.5.8 streams, hybrid files' /XRefStm) newest first; an
// object keeps the definition of the newest section that mentions it.
func openDocument(r io.ReaderAt, size int64) (*document, error) {
	if size < 16 {
		return nil, errors.New("file too small to be a PDF")
	}
	d := &document{r: r, size: size, xref: map[int]xrefEntry{}, objstms: map[int]*objStream{}, maxNum: -1}
	off, tail, err := findStartxref(r, size)
	if err != nil {
		return nil, err
	}
	d.tail, d.tailOff = tail, size-int64(len(tail))
	d.scratch = (*windowBufs.Get().(*[]byte))[:0]
	d.startxref = off
	seen := map[int64]bool{}
	for i := 0; ; i++ {
		if i >= maxSections {
			return nil, errors.New("too many cross-reference sections")
		}
		if seen[off] {
			break // a /Prev cycle: every section has been read once
		}
		seen[off] = true
		trailer, err := d.readSection(off, i == 0)
		if err != nil {
			return nil, fmt.Errorf("read xref at %d: %w", off, err)
		}
		if i == 0 {
			d.trailer = trailer
		}
		if s, ok := trailer["Size"].(int64); ok && s > int64(d.nextNum) && s <= size {
			// /Size cannot exceed the file length: each object takes bytes.
			d.nextNum = int(s)
		}
		prev, ok := trailer["Prev"].(int64)
		if !ok {
			break
		}
		if prev < 0 || prev >= size {
			return nil, fmt.Errorf("read xref at %d: /Prev %d outside the file", off, prev)
		}
		off = prev
	}
	d.nextNum = max(d.nextNum, d.maxNum+1) // merge tracked the largest number
	if _, ok := d.trailer["Root"].(ref); !ok {
		return nil, errors.New("trailer has no /Root reference")
	}
	return d, nil
}

// readSection reads the table or stream at off and merges its entries.
func (d *document) readSection(off int64, newest bool) (dict, error) {
	head, _, err := d.readAt(off, int(min(int64(16), d.size-off)))
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(bytes.TrimLeft(head, " \r\n\t\f\x00"), []byte("xref")) {
		entries, trailer, err := d.readTable(off)
		if err != nil {
			return nil, err
		}
		sec := xrefSection{offset: off}
		// Hybrid file (§7.5.8.4): the table's free entries may hide objects
		// that the /XRefStm stream defines, so the stream overrides them.
		var stmEntries map[int]xrefEntry
		if so, ok := trailer["XRefStm"].(int64); ok && so >= 0 && so < d.size {
			o, err := d.indirectAt(so, -1)
			if err == nil {
				if s, ok := o.(stream); ok {
					stmEntries, _, err = d.xrefStream(s)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("hybrid /XRefStm at %d: %w", so, err)
			}
		}
		for n, e := range stmEntries {
			if t, ok := entries[n]; !ok || t.kind == 0 {
				entries[n] = e
			}
		}
		d.merge(&sec, entries)
		if newest {
			d.lastIsStream = false
		}
		d.sections = append(d.sections, sec)
		return trailer, nil
	}
	o, err := d.indirectAt(off, -1)
	if err != nil {
		return nil, err
	}
	s, ok := o.(stream)
	if !ok || s.dict.name("Type") != "XRef" {
		return nil, errors.New("neither an xref table nor an xref stream")
	}
	entries, trailer, err := d.xrefStream(s)
	if err != nil {
		return nil, err
	}
	sec := xrefSection{offset: off, isStream: true}
	d.merge(&sec, entries)
	if newest {
		d.lastIsStream = true
	}
	d.sections = append(d.sections, sec)
	return trailer, nil
}

func (d *document) merge(sec *xrefSection, entries map[int]xrefEntry) {
	keep := len(entries) <= 4096
	if keep {
		sec.objects = make([]int, 0, len(entries))
	}
	// The newest (often the only) section's map becomes the document's,
	// saving a copy of every entry.
	adopt := len(d.xref) == 0
	for n, e := range entries {
		if keep {
			sec.objects = append(sec.objects, n)
		}
		d.maxNum = max(d.maxNum, n)
		if adopt {
			continue
		}
		if _, ok := d.xref[n]; !ok {
			d.xref[n] = e
		}
	}
	if adopt {
		d.xref = entries
	}
}

// readTable parses a classic "xref" table and the trailer dictionary after it.
func (d *document) readTable(off int64) (map[int]xrefEntry, dict, error) {
	entries, trailer, _, err := d.readTableEnd(off)
	return entries, trailer, err
}

// readTableEnd is readTable that also returns the offset just after the
// trailer dictionary.
func (d *document) readTableEnd(off int64) (map[int]xrefEntry, dict, int64, error) {
	var entries map[int]xrefEntry
	var trailer dict
	var end int64
	hint := 0
	err := d.parseAtHint(off, &hint, func(p *parser) error {
		entries = nil
		if err := p.expect("xref"); err != nil {
			return err
		}
		for {
			p.skipSpace()
			save := p.pos
			kw := p.keyword()
			if p.pos >= len(p.buf) && !p.final {
				return errShort
			}
			if string(kw) == "trailer" {
				p.skipSpace()
				if p.pos+1 >= len(p.buf) {
					return p.eof()
				}
				t, err := p.object(0)
				if err != nil {
					return err
				}
				td, ok := t.(dict)
				if !ok {
					return errors.New("trailer is not a dictionary")
				}
				trailer, end = td, off+int64(p.pos)
				return nil
			}
			p.pos = save
			start, err1 := p.intToken()
			count, err2 := p.intToken()
			if err1 != nil || err2 != nil {
				if err1 == errShort || err2 == errShort {
					return errShort
				}
				return fmt.Errorf("bad subsection header at %d", off+int64(save))
			}
			// Each entry takes at least 18 bytes: refuse counts the file
			// cannot hold before allocating anything for them.
			if start < 0 || count < 0 || start > 1<<31 || count > (d.size-off)/18+1 {
				return fmt.Errorf("bad subsection %d %d", start, count)
			}
			// Entries are 20 bytes: ask for a window that holds them all
			// (and the trailer) instead of growing it step by step.
			if need := p.pos + int(count)*20 + initialWindow; need > len(p.buf) && !p.final {
				hint = max(hint, need)
			}
			if entries == nil {
				// Sized by what the window holds, not by the claimed count.
				entries = make(map[int]xrefEntry, min(int(count), (len(p.buf)-p.pos)/18+1))
			}
			for i := int64(0); i < count; i++ {
				p.skipSpace()
				if o, g, t, ok := p.fixedEntry(); ok {
					// The common fixed-format entry "oooooooooo ggggg n\r\n",
					// decoded without the tokenizer; same result.
					n := int(start + i)
					if _, dup := entries[n]; dup {
						continue
					}
					if t == 'n' && o > 0 && o < d.size {
						entries[n] = xrefEntry{kind: 1, off: o, gen: int(g)}
					} else {
						entries[n] = xrefEntry{}
					}
					continue
				}
				o, err1 := p.intToken()
				g, err2 := p.intToken()
				p.skipSpace()
				t := p.keyword()
				if err1 == errShort || err2 == errShort || (p.pos >= len(p.buf) && !p.final) {
					return errShort
				}
				if err1 != nil || err2 != nil || len(t) != 1 || (t[0] != 'n' && t[0] != 'f') {
					return fmt.Errorf("bad xref entry %d", start+i)
				}
				n := int(start + i)
				if _, dup := entries[n]; dup {
					continue
				}
				if t[0] == 'n' {
					if o <= 0 || o >= d.size {
						// An in-use entry pointing nowhere: treat the object as
						// missing, as lenient readers do.
						entries[n] = xrefEntry{}
						continue
					}
					entries[n] = xrefEntry{kind: 1, off: o, gen: int(g)}
				} else {
					entries[n] = xrefEntry{}
				}
			}
		}
	})
	if err == nil && entries == nil {
		entries = map[int]xrefEntry{}
	}
	return entries, trailer, end, err
}

// fixedEntry decodes a cross-reference entry in its standard form (§7.5.4):
// 10-digit offset, space, 5-digit generation, space, n or f, then white
// space; ok is false for anything else, which the tokenizer then handles.
func (p *parser) fixedEntry() (off, gen int64, typ byte, ok bool) {
	b := p.buf[p.pos:]
	if len(b) < 19 || b[10] != ' ' || b[16] != ' ' || (b[17] != 'n' && b[17] != 'f') || !isWhite(b[18]) {
		return 0, 0, 0, false
	}
	for _, c := range b[:10] {
		if c < '0' || c > '9' {
			return 0, 0, 0, false
		}
		off = off*10 + int64(c-'0')
	}
	for _, c := range b[11:16] {
		if c < '0' || c > '9' {
			return 0, 0, 0, false
		}
		gen = gen*10 + int64(c-'0')
	}
	p.pos += 18
	return off, gen, b[17], true
}

func (p *parser) intToken() (int64, error) {
	p.skipSpace()
	kw := p.keyword()
	if p.pos >= len(p.buf) && !p.final {
		return 0, errShort
	}
	n, ok := parseInt(kw, 64)
	if !ok {
		return 0, errBadInt
	}
	return n, nil
}

var errBadInt = errors.New("pades: bad integer")

// xrefStream decodes a cross-reference stream (§7.5.8); its dictionary is the
// trailer of its section.
func (d *document) xrefStream(s stream) (map[int]xrefEntry, dict, error) {
	w, _ := s.dict["W"].(array)
	if len(w) != 3 {
		return nil, nil, errors.New("xref stream: bad /W")
	}
	var ws [3]int
	width := 0
	for i, v := range w {
		n, ok := v.(int64)
		if !ok || n < 0 || n > 8 {
			return nil, nil, errors.New("xref stream: bad /W")
		}
		ws[i] = int(n)
		width += int(n)
	}
	if width == 0 {
		return nil, nil, errors.New("xref stream: zero /W")
	}
	size, _ := s.dict["Size"].(int64)
	index, _ := s.dict["Index"].(array)
	if index == nil {
		index = array{int64(0), size}
	}
	data, err := d.streamData(s, true)
	if err != nil {
		return nil, nil, err
	}
	hint := 0
	for i := 0; i+1 < len(index); i += 2 {
		if c, ok := index[i+1].(int64); ok && c > 0 {
			hint += int(min(c, int64(len(data))))
		}
	}
	entries := make(map[int]xrefEntry, min(hint, len(data)/width+1))
	pos := 0
	for i := 0; i+1 < len(index); i += 2 {
		start, ok1 := index[i].(int64)
		count, ok2 := index[i+1].(int64)
		if !ok1 || !ok2 || start < 0 || count < 0 || start > 1<<31 {
			return nil, nil, errors.New("xref stream: bad /Index")
		}
		for j := int64(0); j < count; j++ {
			if pos+width > len(data) {
				// Short data (seen in real files): keep what is there.
				return entries, s.dict, nil
			}
			f := [3]int64{1, 0, 0} // type defaults to 1 when its width is 0
			for k := 0; k < 3; k++ {
				if ws[k] == 0 {
					continue
				}
				var v int64
				for _, b := range data[pos : pos+ws[k]] {
					v = v<<8 | int64(b)
				}
				f[k] = v
				pos += ws[k]
			}
			n := int(start + j)
			if _, dup := entries[n]; dup {
				continue
			}
			switch f[0] {
			case 1:
				if f[1] <= 0 || f[1] >= d.size {
					entries[n] = xrefEntry{}
				} else {
					entries[n] = xrefEntry{kind: 1, off: f[1], gen: int(f[2])}
				}
			case 2:
				if f[1] < 0 || f[1] > 1<<31 || f[2] < 0 || f[2] > 1<<31 {
					entries[n] = xrefEntry{}
				} else {
					entries[n] = xrefEntry{kind: 2, off: f[1], gen: int(f[2])}
				}
			default:
				entries[n] = xrefEntry{}
			}
		}
	}
	return entries, s.dict, nil
}
