package pades

import (
	"bytes"
	"io"
	"sort"
	"strconv"
)

// revision collects the objects of one incremental update (ISO 32000
// §7.5.6) and lays them out after the existing file.
type revision struct {
	d       *document
	objs    map[int]pendingObject
	xrefRef ref // number of the xref stream, allocated on first layout
}

type pendingObject struct {
	r    ref
	obj  any      // a PDF object, or
	body []byte   // pre-serialised body (streams), or
	sig  *sigDict // a signature dictionary with its placeholders
}

func newRevision(d *document) *revision {
	return &revision{d: d, objs: map[int]pendingObject{}}
}

// alloc reserves a new object number.
func (rv *revision) alloc() ref {
	r := ref{rv.d.nextNum, 0}
	rv.d.nextNum++
	return r
}

// set stores a new version of r.
func (rv *revision) set(r ref, obj any) { rv.objs[r.num] = pendingObject{r: r, obj: obj} }

// setBody stores r with a pre-serialised body.
func (rv *revision) setBody(r ref, body []byte) { rv.objs[r.num] = pendingObject{r: r, body: body} }

// setStream stores r as a stream with dictionary sd and data.
func (rv *revision) setStream(r ref, sd dict, data []byte) {
	sd["Length"] = int64(len(data))
	var b bytes.Buffer
	writeObject(&b, sd)
	b.WriteString("\nstream\n")
	b.Write(data)
	b.WriteString("\nendstream")
	rv.setBody(r, b.Bytes())
}

// get returns the pending version of r if this revision changed it, else the
// document's.
func (rv *revision) get(r ref) (any, error) {
	if p, ok := rv.objs[r.num]; ok && p.obj != nil {
		return p.obj, nil
	}
	return rv.d.object(r.num)
}

// layout is the serialised revision.
type layout struct {
	data      []byte
	offsets   map[int]int64 // object number -> absolute offset of "N G obj"
	bodyStart map[int]int64 // object number -> absolute offset of its body
	gens      map[int]int
	xrefOff   int64
	trailer   dict

	// body-relative offsets of the signature dictionary's /ByteRange and
	// /Contents placeholders, when the revision has one
	sigBR, sigCT int
}

// needsNewline reports whether the file does not end with an end-of-line,
// in which case the revision starts with one.
func needsNewline(r io.ReaderAt, size int64) bool {
	var b [1]byte
	if _, err := r.ReadAt(b[:], size-1); err != nil {
		return true
	}
	return b[0] != '\n' && b[0] != '\r'
}

// needsNewline is needsNewline for the document as it stands.
func (d *document) needsNewline() bool {
	if d.tail != nil && d.tailOff+int64(len(d.tail)) == d.size && len(d.tail) > 0 {
		c := d.tail[len(d.tail)-1]
		return c != '\n' && c != '\r'
	}
	return needsNewline(d.r, d.size)
}

// layout serialises the objects and a cross-reference section of the same
// kind as the document's newest one, chained with /Prev.
func (rv *revision) layout() (*layout, error) {
	d := rv.d
	base := d.size
	est := 512 + 40*len(rv.objs) // headers, xref section, trailer
	for _, p := range rv.objs {
		est += len(p.body) + 256
		if p.sig != nil {
			est += 1024 + byteRangeWidth + 2*p.sig.contentsLen
		}
	}
	var mem []byte
	if bp, ok := layoutBufs.Get().(*[]byte); ok && cap(*bp) >= est {
		mem = (*bp)[:0]
	} else {
		mem = make([]byte, 0, est)
	}
	buf := bytes.NewBuffer(mem)
	if d.needsNewline() {
		buf.WriteByte('\n')
	}
	if d.lastIsStream && rv.xrefRef.num == 0 {
		rv.xrefRef = rv.alloc()
	}
	xrefRef := rv.xrefRef
	nums := make([]int, 0, len(rv.objs))
	for n := range rv.objs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	l := &layout{offsets: map[int]int64{}, bodyStart: map[int]int64{}, gens: map[int]int{}}
	for _, n := range nums {
		p := rv.objs[n]
		l.offsets[n] = base + int64(buf.Len())
		l.gens[n] = p.r.gen
		writeObjHeader(buf, p.r.num, p.r.gen)
		l.bodyStart[n] = base + int64(buf.Len())
		if p.sig != nil {
			l.sigBR, l.sigCT = p.sig.writeBody(buf)
		} else if p.body != nil {
			buf.Write(p.body)
		} else {
			writeObject(buf, p.obj)
		}
		buf.WriteString("\nendobj\n")
	}
	trailer := dict{"Size": int64(d.nextNum), "Prev": d.startxref}
	for _, k := range []name{"Root", "Info", "ID"} {
		if v, ok := d.trailer[k]; ok {
			trailer[k] = v
		}
	}
	l.xrefOff = base + int64(buf.Len())
	if d.lastIsStream {
		l.offsets[xrefRef.num] = l.xrefOff
		l.gens[xrefRef.num] = 0
		nums = append(nums, xrefRef.num)
		trailer["Type"] = name("XRef")
		// Offsets fit in 4 bytes below 4 GiB; use 8 beyond.
		ow := 4
		if l.xrefOff > 0xFFFFFFFF {
			ow = 8
		}
		trailer["W"] = array{int64(1), int64(ow), int64(2)}
		index, runs := subsections(nums)
		trailer["Index"] = index
		var data []byte
		for _, run := range runs {
			for _, n := range run {
				data = append(data, 1)
				off := l.offsets[n]
				for i := ow - 1; i >= 0; i-- {
					data = append(data, byte(off>>(8*i)))
				}
				data = append(data, byte(l.gens[n]>>8), byte(l.gens[n]))
			}
		}
		trailer["Length"] = int64(len(data))
		writeObjHeader(buf, xrefRef.num, 0)
		writeObject(buf, trailer)
		buf.WriteString("\nstream\n")
		buf.Write(data)
		buf.WriteString("\nendstream\nendobj\n")
	} else {
		buf.WriteString("xref\n")
		_, runs := subsections(nums)
		for _, run := range runs {
			var b [32]byte
			h := strconv.AppendInt(b[:0], int64(run[0]), 10)
			h = append(h, ' ')
			h = strconv.AppendInt(h, int64(len(run)), 10)
			buf.Write(append(h, '\n'))
			for _, n := range run {
				writeTableEntry(buf, l.offsets[n], l.gens[n])
			}
		}
		buf.WriteString("trailer\n")
		writeObject(buf, trailer)
		buf.WriteString("\n")
	}
	buf.WriteString("startxref\n" + strconv.FormatInt(l.xrefOff, 10) + "\n%%EOF\n")
	l.data = buf.Bytes()
	l.trailer = trailer
	d.layouts = append(d.layouts, l.data)
	return l, nil
}

// writeObjHeader writes "num gen obj\n".
func writeObjHeader(buf *bytes.Buffer, num, gen int) {
	var b [48]byte
	h := strconv.AppendInt(b[:0], int64(num), 10)
	h = append(h, ' ')
	h = strconv.AppendInt(h, int64(gen), 10)
	buf.Write(append(h, " obj\n"...))
}

// writeTableEntry writes a classic xref entry, "%010d %05d n\r\n".
func writeTableEntry(buf *bytes.Buffer, off int64, gen int) {
	var b [40]byte
	e := appendPadded(b[:0], off, 10)
	e = append(e, ' ')
	e = appendPadded(e, int64(gen), 5)
	buf.Write(append(e, " n\r\n"...))
}

// appendPadded appends v (≥ 0) in decimal, zero-padded to width digits.
func appendPadded(dst []byte, v int64, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// subsections groups sorted object numbers into consecutive runs.
func subsections(nums []int) (array, [][]int) {
	sort.Ints(nums)
	var runs [][]int
	for _, n := range nums {
		if len(runs) > 0 {
			last := runs[len(runs)-1]
			if last[len(last)-1]+1 == n {
				runs[len(runs)-1] = append(last, n)
				continue
			}
		}
		runs = append(runs, []int{n})
	}
	var index array
	for _, r := range runs {
		index = append(index, int64(r[0]), int64(len(r)))
	}
	return index, runs
}

// commit makes the document see the file extended by l, so another revision
// can be built on top without re-reading the original.
func (d *document) commit(l *layout) {
	d.r = &appendedReaderAt{base: d.r, baseSize: d.size, tail: l.data}
	d.size += int64(len(l.data))
	for n, off := range l.offsets {
		d.xref[n] = xrefEntry{kind: 1, off: off, gen: l.gens[n]}
	}
	objs := make([]int, 0, len(l.offsets))
	for n := range l.offsets {
		objs = append(objs, n)
	}
	d.sections = append([]xrefSection{{offset: l.xrefOff, isStream: d.lastIsStream, objects: objs}}, d.sections...)
	d.trailer = l.trailer
	d.startxref = l.xrefOff
	clear(d.objstms)
	clear(d.cache)
}

// appendedReaderAt is a file followed by bytes held in memory.
type appendedReaderAt struct {
	base     io.ReaderAt
	baseSize int64
	tail     []byte
}

func (a *appendedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < a.baseSize {
		m := int(min(int64(len(p)), a.baseSize-off))
		k, err := a.base.ReadAt(p[:m], off)
		n += k
		if k < m {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		off += int64(k)
	}
	if n == len(p) {
		return n, nil
	}
	t := off - a.baseSize
	if t >= int64(len(a.tail)) {
		return n, io.EOF
	}
	k := copy(p[n:], a.tail[t:])
	n += k
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
