package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// document is a lazy view of a PDF: the merged cross-reference data of all
// revisions plus the newest trailer. Objects are parsed only when asked for,
// straight from the io.ReaderAt, so memory stays proportional to the
// cross-reference table rather than to the file.
type document struct {
	r    io.ReaderAt
	size int64

	xref         map[int]xrefEntry
	trailer      dict  // newest trailer
	startxref    int64 // offset of the newest cross-reference section
	lastIsStream bool  // newest section is an xref stream (not a table)
	sections     []xrefSection
	nextNum      int // first unused object number (the new /Size)
	maxNum       int // largest object number in the cross-reference data

	objstms map[int]*objStream
	loads   int // objects parsed, to bound work on hostile input

	// cache holds recently parsed objects (the catalog is read several
	// times per signature). Objects from the document are never modified
	// in place — the writer clones before changing — so they can be shared.
	cache   map[int]any
	scratch []byte // parse window reused across reads
	// layouts are the revisions' buffers, recycled by release.
	layouts [][]byte
	// tail is a copy of the original file's bytes from tailOff to its end:
	// reads inside it (the newest xref section, typically) need no I/O.
	tail    []byte
	tailOff int64
}

type xrefEntry struct {
	kind uint8 // 0 free, 1 at offset, 2 in object stream
	off  int64 // kind 1: byte offset; kind 2: object stream number
	gen  int   // kind 1: generation; kind 2: index in the stream
}

// xrefSection describes one cross-reference section, newest first.
type xrefSection struct {
	offset   int64
	isStream bool
	objects  []int // object numbers it defines (nil when very large)
}

type objStream struct {
	data  []byte
	first int
	offs  map[int]int // object number -> offset relative to first
}

const (
	maxSections   = 10000    // revisions followed through /Prev
	maxLoads      = 200000   // objects parsed per document
	maxWindow     = 16 << 20 // largest single object read
	initialWindow = 4096
	maxScratch    = 256 << 10 // largest parse window kept for reuse
	maxCached     = 64        // parsed objects kept per document
	tailWindow    = 4096      // bytes kept from the end of the file
)

// windowBufs recycles tailWindow-sized buffers (the file's tail and the
// first parse window) and layoutBufs revision buffers across documents.
var (
	windowBufs = sync.Pool{New: func() any { b := make([]byte, tailWindow); return &b }}
	layoutBufs sync.Pool
)

// release recycles the document's buffers. The document must not be used
// afterwards, and nothing may hold on to them: parsed objects never alias
// the parse windows or the tail (readInto copies out of it), and revision
// buffers have only been written out (an io.Writer does not retain them).
func (d *document) release() {
	if cap(d.tail) == tailWindow {
		b := d.tail[:0]
		windowBufs.Put(&b)
	}
	if cap(d.scratch) == tailWindow {
		b := d.scratch[:0]
		windowBufs.Put(&b)
	}
	for _, l := range d.layouts {
		if cap(l) <= 1<<20 {
			b := l[:0]
			layoutBufs.Put(&b)
		}
	}
	*d = document{}
}

// readAt reads up to n bytes at off, fewer at the end of the file.
func (d *document) readAt(off int64, n int) ([]byte, bool, error) {
	return d.readInto(nil, off, n)
}

// readInto is readAt reading into buf when it is large enough.
func (d *document) readInto(buf []byte, off int64, n int) ([]byte, bool, error) {
	if off < 0 || off > d.size {
		return nil, false, fmt.Errorf("offset %d outside file of %d bytes", off, d.size)
	}
	final := false
	if int64(n) >= d.size-off {
		n = int(d.size - off)
		final = true
	}
	if cap(buf) >= n {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if t := off - d.tailOff; d.tail != nil && t >= 0 && t+int64(n) <= int64(len(d.tail)) {
		copy(buf, d.tail[t:])
		return buf, final, nil
	}
	m, err := d.r.ReadAt(buf, off)
	if m < n {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, false, fmt.Errorf("read %d bytes at %d: %w", n, off, err)
	}
	return buf, final, nil
}

// parseAt runs fn over growing windows starting at off until it stops
// asking for more data.
func (d *document) parseAt(off int64, fn func(p *parser) error) error {
	return d.parseAtHint(off, nil, fn)
}

// parseAtHint is parseAt where fn may raise *hint to the window size it
// knows it needs, so that a large object is read and parsed once more rather
// than once per growth step.
func (d *document) parseAtHint(off int64, hint *int, fn func(p *parser) error) error {
	for w := initialWindow; ; w *= 4 {
		if hint != nil && *hint > w {
			w = *hint
		}
		if w > maxWindow {
			w = maxWindow
		}
		// The window is scratch space: parsed objects never alias it (names
		// and strings are copied), so one buffer serves every read.
		scratch := d.scratch
		d.scratch = nil // a nested parse gets its own
		buf, final, err := d.readInto(scratch, off, w)
		if err != nil {
			return err
		}
		p := &parser{buf: buf, final: final || w == maxWindow}
		err = fn(p)
		if cap(buf) <= maxScratch {
			d.scratch = buf[:0]
		}
		if err != errShort {
			return err
		}
		if final || w == maxWindow {
			return fmt.Errorf("object at %d too large", off)
		}
	}
}

// indirectAt parses "num gen obj ... [stream]" at off and returns the object;
// a stream is returned as stream with its data offset.
func (d *document) indirectAt(off int64, wantNum int) (any, error) {
	o, _, _, err := d.indirectSpan(off, wantNum)
	return o, err
}

// indirectSpan is indirectAt that also returns the object's number and,
// for an object that is not a stream, the offset just after its "endobj"
// (-1 when the keyword is missing, which reading tolerates).
func (d *document) indirectSpan(off int64, wantNum int) (any, int, int64, error) {
	d.loads++
	if d.loads > maxLoads {
		return nil, 0, 0, errors.New("too many objects read")
	}
	var obj any
	num, end := -1, int64(-1)
	err := d.parseAt(off, func(p *parser) error {
		p.skipSpace()
		n, gen, err := p.objHeader()
		if err != nil {
			return err
		}
		if wantNum >= 0 && n != wantNum {
			return fmt.Errorf("object %d expected at %d, found %d %d obj", wantNum, off, n, gen)
		}
		o, err := p.object(0)
		if err != nil {
			return err
		}
		p.skipSpace()
		kwStart := p.pos
		kw := p.keyword()
		if string(kw) == "stream" {
			sd, ok := o.(dict)
			if !ok {
				return fmt.Errorf("stream without dictionary at %d", off)
			}
			// The keyword is followed by CRLF or LF (a lone CR is tolerated).
			if p.pos < len(p.buf) && p.buf[p.pos] == '\r' {
				p.pos++
			}
			if p.pos < len(p.buf) && p.buf[p.pos] == '\n' {
				p.pos++
			}
			if p.pos >= len(p.buf) && !p.final {
				return errShort
			}
			obj, num = stream{dict: sd, offset: off + int64(p.pos)}, n
			return nil
		}
		if len(kw) == 0 && kwStart >= len(p.buf) && !p.final {
			return errShort
		}
		obj, num = o, n
		if string(kw) == "endobj" {
			end = off + int64(p.pos)
		}
		return nil
	})
	if err != nil {
		return nil, 0, 0, err
	}
	return obj, num, end, nil
}

// objHeader parses "num gen obj".
func (p *parser) objHeader() (int, int, error) {
	start := p.pos
	a := p.keyword()
	p.skipSpace()
	b := p.keyword()
	if err := p.expect("obj"); err != nil {
		if err == errShort {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("no object header at %d", start)
	}
	num, err1 := strconv.Atoi(string(a))
	gen, err2 := strconv.Atoi(string(b))
	if err1 != nil || err2 != nil || num < 0 || gen < 0 {
		return 0, 0, fmt.Errorf("bad object header %q %q at %d", truncate(a), truncate(b), start)
	}
	return num, gen, nil
}

// object returns object num (its newest version), or nil when it is free
// or undefined, as ISO 32000 §7.3.10 prescribes.
func (d *document) object(num int) (any, error) {
	e, ok := d.xref[num]
	if !ok || e.kind == 0 {
		return nil, nil
	}
	if o, ok := d.cache[num]; ok {
		return o, nil
	}
	var o any
	var err error
	switch e.kind {
	case 1:
		if o, err = d.indirectAt(e.off, num); err != nil {
			return nil, fmt.Errorf("object %d: %w", num, err)
		}
	case 2:
		if o, err = d.compressed(int(e.off), num); err != nil {
			return nil, fmt.Errorf("object %d in stream %d: %w", num, e.off, err)
		}
	default:
		return nil, nil
	}
	if d.cache == nil {
		d.cache = make(map[int]any, 8)
	}
	if len(d.cache) < maxCached {
		d.cache[num] = o
	}
	return o, nil
}

// resolve follows references (bounded, so reference loops end).
func (d *document) resolve(o any) (any, error) {
	for i := 0; i < 32; i++ {
		r, ok := o.(ref)
		if !ok {
			return o, nil
		}
		var err error
		if o, err = d.object(r.num); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("reference chain too long")
}

// resolveDict resolves o and returns it as a dictionary (nil when it is not).
func (d *document) resolveDict(o any) (dict, error) {
	v, err := d.resolve(o)
	if err != nil {
		return nil, err
	}
	switch t := v.(type) {
	case dict:
		return t, nil
	case stream:
		return t.dict, nil
	}
	return nil, nil
}

func (d *document) resolveArray(o any) (array, error) {
	v, err := d.resolve(o)
	if err != nil {
		return nil, err
	}
	a, _ := v.(array)
	return a, nil
}

func (d *document) resolveInt(o any) (int64, bool) {
	v, err := d.resolve(o)
	if err != nil {
		return 0, false
	}
	i, ok := v.(int64)
	return i, ok
}

// streamData reads and decodes a stream's data.
func (d *document) streamData(s stream, decode bool) ([]byte, error) {
	n, ok := d.resolveInt(s.dict["Length"])
	if !ok || n < 0 || n > d.size-s.offset {
		return nil, fmt.Errorf("stream at %d: bad /Length", s.offset)
	}
	if n > maxDecoded {
		return nil, fmt.Errorf("stream at %d: %d bytes is too large", s.offset, n)
	}
	raw, _, err := d.readAt(s.offset, int(n))
	if err != nil {
		return nil, err
	}
	if !decode {
		return raw, nil
	}
	out, err := decodeStream(s.dict, raw)
	if err != nil {
		return nil, fmt.Errorf("stream at %d: %w", s.offset, err)
	}
	return out, nil
}

// compressed loads object num from object stream stmNum (ISO 32000 §7.5.7).
func (d *document) compressed(stmNum, num int) (any, error) {
	os, ok := d.objstms[stmNum]
	if !ok {
		e := d.xref[stmNum]
		if e.kind != 1 {
			return nil, errors.New("object stream is not a plain object")
		}
		o, err := d.indirectAt(e.off, stmNum)
		if err != nil {
			return nil, err
		}
		s, ok := o.(stream)
		if !ok {
			return nil, errors.New("object stream is not a stream")
		}
		data, err := d.streamData(s, true)
		if err != nil {
			return nil, err
		}
		n, _ := s.dict["N"].(int64)
		first, _ := s.dict["First"].(int64)
		if n < 0 || first < 0 || first > int64(len(data)) || n > int64(len(data)) {
			return nil, errors.New("bad /N or /First")
		}
		os = &objStream{data: data, first: int(first), offs: make(map[int]int, n)}
		p := &parser{buf: data[:first], final: true}
		// Without an "R" in the header no token can start a reference, so
		// the integers can be read directly, unboxed; same result.
		plain := bytes.IndexByte(p.buf, 'R') < 0
		for i := int64(0); i < n; i++ {
			var on, oo int64
			var ok1, ok2 bool
			var err1, err2 error
			if plain {
				on, ok1 = p.plainInt()
				oo, ok2 = p.plainInt()
			} else {
				a, e1 := p.object(0)
				b, e2 := p.object(0)
				on, ok1 = a.(int64)
				oo, ok2 = b.(int64)
				err1, err2 = e1, e2
			}
			if err1 != nil || err2 != nil || !ok1 || !ok2 || oo < 0 || on < 0 || on > 1<<31 {
				return nil, errors.New("bad object stream header")
			}
			os.offs[int(on)] = int(oo)
		}
		if len(d.objstms) >= 8 { // a small cache: the signing path touches few streams
			clear(d.objstms)
		}
		d.objstms[stmNum] = os
	}
	rel, ok := os.offs[num]
	if !ok || os.first+rel > len(os.data) {
		return nil, errors.New("object not in its object stream")
	}
	d.loads++
	p := &parser{buf: os.data[os.first+rel:], final: true}
	return p.object(0)
}

// plainInt reads the next token as a decimal integer.
func (p *parser) plainInt() (int64, bool) {
	p.skipSpace()
	return parseInt(p.keyword(), 64)
}

// findStartxref reads the offset after the last "startxref" keyword in the
// last 2048 bytes. It also returns the file's last tailWindow bytes, which
// usually hold the newest cross-reference section too.
func findStartxref(r io.ReaderAt, size int64) (int64, []byte, error) {
	n := min(int64(tailWindow), size)
	var buf []byte
	if n == tailWindow {
		buf = (*windowBufs.Get().(*[]byte))[:n]
	} else {
		buf = make([]byte, n)
	}
	m, err := r.ReadAt(buf, size-n)
	if err != nil && err != io.EOF {
		return 0, nil, fmt.Errorf("read trailer: %w", err)
	}
	search := buf[len(buf)-int(min(int64(2048), n)):]
	i := bytes.LastIndex(search, []byte("startxref"))
	if i < 0 {
		return 0, nil, errors.New("startxref not found: not a PDF file or truncated")
	}
	p := &parser{buf: search[i+len("startxref"):], final: true}
	o, err := p.object(0)
	off, ok := o.(int64)
	if err != nil || !ok || off < 0 || off >= size {
		return 0, nil, fmt.Errorf("bad startxref offset %v", o)
	}
	if int64(m) < n {
		buf = nil // a short read: leave later reads to report it
	}
	return off, buf, nil
}
