package pades

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// appendedRevision is one incremental update (ISO 32000 §7.5.6) found after
// a signed revision.
type appendedRevision struct {
	start, end int64 // its bytes, from the first object to just after %%EOF
	xref       int64 // offset of its cross-reference section
	entries    map[int]xrefEntry
}

// laterRevisions reads the bytes from off to the end of the file as a
// sequence of incremental updates: objects, a cross-reference section whose
// /Prev is the section before it (prevXref for the first), "startxref" and
// "%%EOF". Everything else — bytes that belong to no update ("junk after
// %%EOF"), an object no section lists, a section that does not chain — is
// returned as a change outside any permission: it either changes what some
// reader shows or hides data no reader should see.
func (d *document) laterRevisions(off, prevXref int64) ([]appendedRevision, []Change) {
	var revs []appendedRevision
	var problems []Change
	problem := func(format string, args ...any) {
		problems = append(problems, Change{Kind: ChangeOther, Description: fmt.Sprintf(format, args...)})
	}
	type placed struct {
		num int
		off int64
	}
	cur := appendedRevision{start: off, xref: -1}
	var objs []placed
	var trailer dict
	pos := off
	for len(revs) < maxSections {
		pos = d.skipFiller(pos)
		if pos >= d.size {
			break
		}
		head, _, err := d.readAt(pos, int(min(32, d.size-pos)))
		if err != nil {
			problem("unreadable data at byte %d: %v", pos, err)
			return revs, problems
		}
		switch {
		case head[0] >= '0' && head[0] <= '9':
			num, end, s, err := d.objectSpan(pos)
			if err != nil {
				problem("data that is not part of an incremental update at byte %d: %s", pos, preview(head))
				return revs, problems
			}
			if s != nil && s.dict.name("Type") == "XRef" && cur.xref < 0 {
				entries, t, err := d.xrefStream(*s)
				if err != nil {
					problem("unreadable cross-reference stream at byte %d: %v", pos, err)
					return revs, problems
				}
				cur.xref, cur.entries, trailer = pos, entries, t
			}
			objs = append(objs, placed{num, pos})
			pos = end
		case bytes.HasPrefix(head, []byte("xref")):
			entries, t, end, err := d.readTableEnd(pos)
			if err != nil {
				problem("unreadable cross-reference table at byte %d: %v", pos, err)
				return revs, problems
			}
			if so, ok := t["XRefStm"].(int64); ok && so >= cur.start && so < pos {
				// A hybrid section's stream (§7.5.8.4) lists what the table
				// marks free; it is one of this update's objects.
				if o, err := d.indirectAt(so, -1); err == nil {
					if s, ok := o.(stream); ok {
						if more, _, err := d.xrefStream(s); err == nil {
							for n, e := range more {
								if old, ok := entries[n]; !ok || old.kind == 0 {
									entries[n] = e
								}
							}
						}
					}
				}
			}
			cur.xref, cur.entries, trailer = pos, entries, t
			pos = end
		case bytes.HasPrefix(head, []byte("startxref")):
			target, end, ok := d.startxrefAt(pos)
			if !ok {
				problem("malformed startxref/%%%%EOF at byte %d", pos)
				return revs, problems
			}
			cur.end = end
			switch {
			case cur.xref < 0:
				problem("an update ending at byte %d has no cross-reference section", end)
			case target != cur.xref:
				problem("startxref at byte %d points at byte %d, not at its update's cross-reference section", pos, target)
			}
			if p, ok := trailer["Prev"].(int64); cur.xref >= 0 && (!ok || p != prevXref) {
				problem("the update at byte %d does not continue the revision before it (/Prev %v, want %d)", cur.start, trailer["Prev"], prevXref)
			}
			for _, o := range objs {
				// (Some writers point an entry at the end of line before the
				// object; readers skip white space there, so do we.)
				if e, ok := cur.entries[o.num]; (!ok || e.kind != 1 || d.skipFiller(e.off) != o.off) && o.off != cur.xref {
					problem("object %d at byte %d is in no cross-reference section: data no conforming reader shows", o.num, o.off)
				}
			}
			revs = append(revs, cur)
			prevXref = cur.xref
			cur = appendedRevision{start: end, xref: -1}
			objs, trailer = nil, nil
			pos = end
		default:
			problem("data appended after %%%%EOF at byte %d: %s", pos, preview(head))
			return revs, problems
		}
	}
	if len(objs) > 0 || cur.xref >= 0 {
		problem("an incomplete update (no startxref/%%%%EOF) at the end of the file, from byte %d", cur.start)
	}
	return revs, problems
}

// skipFiller skips white space (NUL included) and comments.
func (d *document) skipFiller(pos int64) int64 {
	for pos < d.size {
		buf, _, err := d.readAt(pos, int(min(4096, d.size-pos)))
		if err != nil {
			return pos
		}
		p := &parser{buf: buf, final: true}
		p.skipSpace()
		pos += int64(p.pos)
		if p.pos < len(buf) {
			return pos
		}
	}
	return pos
}

// startxrefAt reads "startxref N %%EOF" at pos and returns N and the offset
// just after %%EOF and its end of line.
func (d *document) startxrefAt(pos int64) (int64, int64, bool) {
	buf, _, err := d.readAt(pos, int(min(64, d.size-pos)))
	if err != nil {
		return 0, 0, false
	}
	p := &parser{buf: buf, final: true}
	if p.expect("startxref") != nil {
		return 0, 0, false
	}
	p.skipSpace()
	n, ok := parseInt(p.keyword(), 64)
	for p.pos < len(buf) && isWhite(buf[p.pos]) {
		p.pos++
	}
	if !ok || !bytes.HasPrefix(buf[p.pos:], []byte("%%EOF")) {
		return 0, 0, false
	}
	return n, pos + int64(p.pos+5), true
}

// objectSpan parses the indirect object at off strictly — "endobj" and, for
// a stream, /Length bytes and "endstream" where they belong — and returns
// its number, the offset just after it, and the stream when it is one.
func (d *document) objectSpan(off int64) (int, int64, *stream, error) {
	o, num, end, err := d.indirectSpan(off, -1)
	if err != nil {
		return 0, 0, nil, err
	}
	s, ok := o.(stream)
	if !ok {
		if end < 0 {
			return 0, 0, nil, errors.New("no endobj")
		}
		return num, end, nil, nil
	}
	n, ok := d.resolveInt(s.dict["Length"])
	if !ok || n < 0 || n > d.size-s.offset {
		return 0, 0, nil, errors.New("bad stream /Length")
	}
	err = d.parseAt(s.offset+n, func(p *parser) error {
		if err := p.expect("endstream"); err != nil {
			return err
		}
		if err := p.expect("endobj"); err != nil {
			return err
		}
		end = s.offset + n + int64(p.pos)
		return nil
	})
	return num, end, &s, err
}

// preview quotes the start of some bytes for a message.
func preview(b []byte) string {
	b = b[:min(len(b), 24)]
	return strconv.QuoteToASCII(string(b))
}
