package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// Level is a PAdES baseline conformance level (ETSI EN 319 142-1).
type Level string

// PAdES baseline levels.
const (
	LevelBB   Level = "B-B"   // CMS signature
	LevelBT   Level = "B-T"   // + signature timestamp
	LevelBLT  Level = "B-LT"  // + DSS with certificates and revocation data
	LevelBLTA Level = "B-LTA" // + document timestamp over everything
)

// Rect is a rectangle on a page in PDF points: lower-left corner, width and
// height.
type Rect struct{ X, Y, W, H float64 }

// Placement is a rectangle on a 1-based page.
type Placement struct {
	Page int
	Rect Rect
}

// Visible places the signature's appearance on a page. The appearance reads
// upright however the page is rotated; a box entirely outside the page's
// visible area is refused with a *PlacementError.
type Visible struct {
	Page int  // 1-based page number
	Rect Rect // where on the page, in default user space (unrotated)
	// Image is an optional PNG (a drawn signature) shown beside the text.
	Image []byte
	// Signature is an optional typed signature, drawn large in a
	// handwriting face (pdffont.SignatureStack) above the details.
	Signature string
	// Fallback fonts are tried, in order, for characters the built-in
	// fonts lack (Han, for one).
	Fallback []*pdffont.Font
}

// ValidationData is what a DSS dictionary stores: DER certificates, OCSP
// responses and CRLs.
type ValidationData struct {
	Certs, OCSPs, CRLs [][]byte
}

// RevocationFunc fetches revocation data (OCSP responses, CRLs, missing
// certificates) for the given certificates; pkg/revocation provides one.
type RevocationFunc func(ctx context.Context, certs []*x509.Certificate) (ValidationData, error)

// Options configures Sign.
type Options struct {
	// Signer is the private key; Certificates[0] its certificate, followed by
	// intermediates (the root may be omitted).
	Signer       crypto.Signer
	Certificates []*x509.Certificate
	// Hash is the digest algorithm (SHA-256 when zero); PSS selects RSA-PSS.
	Hash crypto.Hash
	PSS  bool
	// Level defaults to B-B. B-T and above need Timestamper.
	Level       Level
	Timestamper cms.Timestamper
	// Revocation supplies OCSP/CRL data for B-LT and B-LTA. When nil the DSS
	// carries certificates only.
	Revocation RevocationFunc
	// Signature dictionary entries.
	Name, Reason, Location, ContactInfo string
	// Time is the claimed signing time (/M); now when zero.
	Time time.Time
	// FieldName is the new signature field's name; "SignatureN" when empty.
	FieldName string
	// Field, when set, names an existing empty signature field to sign
	// into instead of adding one: its rectangle, page, flags and widget
	// stay, its seed values (/SV) are honoured and the FieldMDP lock its
	// /Lock asks for is applied. A missing or signed field is a
	// *FieldError (ErrNoSuchField, ErrFieldSigned).
	Field string
	// Visible, when set, draws the signature on a page; otherwise the
	// signature is invisible (a zero-size widget on page 1). With Field,
	// the appearance goes into the field's own rectangle (Visible's Page
	// and Rect are ignored) and is drawn whenever that rectangle has an
	// area.
	Visible *Visible
	// ExtraAppearances show the signature's appearance again at further
	// places (a signer asked to sign on several pages), as /Stamp
	// annotations in the signature's own revision, so the signature covers
	// them and the document still has one signature field. They need a
	// visible signature; each gets the widget's appearance, scaled to its
	// rectangle.
	ExtraAppearances []Placement

	// field is the field Field names, found before anything is hashed.
	field *sigFieldInfo
	// DocMDP, when 1, 2 or 3, makes this a certification signature with
	// that permission level (§12.8.2.2): 1 no changes, 2 form filling and
	// signing, 3 also annotations. It must be the document's first signature.
	DocMDP int
}

// hashState is a hash's internal state after some prefix of the output, so
// that a revision can be hashed again without re-reading the file.
type hashState struct {
	h     crypto.Hash
	state []byte
}

func snapshot(h crypto.Hash, hh hash.Hash) (hashState, error) {
	m, ok := hh.(encoding.BinaryMarshaler)
	if !ok {
		return hashState{}, fmt.Errorf("hash %v cannot be snapshotted", h)
	}
	st, err := m.MarshalBinary()
	return hashState{h: h, state: st}, err
}

func (s hashState) restore() hash.Hash {
	hh := s.h.New()
	if err := hh.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.state); err != nil {
		panic(err) // the state came from the same implementation
	}
	return hh
}

func (o *Options) hash() crypto.Hash {
	if o.Hash == 0 {
		return crypto.SHA256
	}
	return o.Hash
}

func (o *Options) validate() error {
	if o.Signer == nil || len(o.Certificates) == 0 {
		return errors.New("pades: Signer and Certificates are required")
	}
	switch o.hash() {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("pades: unsupported hash %v", o.Hash)
	}
	switch o.Level {
	case "", LevelBB:
	case LevelBT, LevelBLT, LevelBLTA:
		if o.Timestamper == nil {
			return fmt.Errorf("pades: level %s needs a Timestamper", o.Level)
		}
	default:
		return fmt.Errorf("pades: unknown level %q", o.Level)
	}
	if v := o.Visible; v != nil && o.Field == "" && (v.Page < 1 || v.Rect.W <= 0 || v.Rect.H <= 0) {
		return fmt.Errorf("pades: visible signature needs a page ≥ 1 and a positive size")
	}
	for _, p := range o.ExtraAppearances {
		if p.Page < 1 || p.Rect.W <= 0 || p.Rect.H <= 0 {
			return fmt.Errorf("pades: extra appearance needs a page ≥ 1 and a positive size")
		}
	}
	if len(o.ExtraAppearances) > 0 && o.Visible == nil && o.Field == "" {
		return errors.New("pades: extra appearances need a visible signature")
	}
	return nil
}

// Sign appends to the PDF read from in (size bytes) an incremental revision
// holding a PAdES signature (ETSI.CAdES.detached) and writes the whole
// signed file to out. For B-LT it appends a further revision with a DSS, for
// B-LTA one more with a document timestamp. The input is read once, in a
// streaming fashion; only the objects the update touches are parsed.
//
// Documents that cannot be signed yield an *Error with a RemSig code
// (ENCRYPTED, LOCKED…) before anything is written to out.
func Sign(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	d, err := openDocument(in, size)
	if err == nil {
		if err = d.healthy(); err != nil {
			d.release()
		}
	}
	if err != nil {
		// Damaged cross-reference data: reconstruct it, rewrite the file
		// cleanly once, and sign the clean file incrementally.
		clean, rerr := repair(in, size)
		if rerr != nil {
			var pe *Error
			if errors.As(rerr, &pe) {
				return rerr
			}
			return codeErr(CodeUnknownError, err, "cannot read PDF (reconstruction failed too: %v)", rerr)
		}
		if d, err = openDocument(bytes.NewReader(clean), int64(len(clean))); err == nil {
			err = d.healthy()
		}
		if err != nil {
			return codeErr(CodeUnknownError, err, "cannot read the repaired PDF")
		}
		in, size = bytes.NewReader(clean), int64(len(clean))
	}
	defer d.release()
	if err := checkSignable(d); err != nil {
		return err
	}
	if opts.Field != "" {
		// Seed values can choose the digest: settle them before hashing.
		f, err := findEmptyField(d, opts.Field)
		if err != nil {
			return err
		}
		if err := applySeedValue(d, opts.Field, f.field.dict, &opts); err != nil {
			return err
		}
		opts.field = &f
	}
	h := opts.hash()
	sigHash := h.New()
	// The document timestamp is always SHA-256 and covers every revision; it
	// is fed alongside so the file is read exactly once.
	var docHash hash.Hash
	writers := []io.Writer{out, sigHash}
	if opts.Level == LevelBLTA {
		docHash = crypto.SHA256.New()
		writers = append(writers, docHash)
	}
	if _, err := copyPooled(io.MultiWriter(writers...), io.NewSectionReader(in, 0, size)); err != nil {
		return fmt.Errorf("pades: copy input: %w", err)
	}
	st, err := snapshot(h, sigHash)
	if err != nil {
		return err
	}
	l, cmsDER, err := signRevision(ctx, d, st, &opts)
	if err != nil {
		return err
	}
	if err := emit(d, l, out, docHash); err != nil {
		return err
	}
	if opts.Level != LevelBLT && opts.Level != LevelBLTA {
		return nil
	}
	vd, err := validationFor(ctx, cmsDER, &opts)
	if err != nil {
		return err
	}
	if l, err = dssRevision(d, vd); err != nil {
		return err
	}
	if err := emit(d, l, out, docHash); err != nil {
		return err
	}
	if opts.Level != LevelBLTA {
		return nil
	}
	dst, err := snapshot(crypto.SHA256, docHash)
	if err != nil {
		return err
	}
	if l, err = docTimestampRevision(ctx, d, dst, opts.Timestamper); err != nil {
		return err
	}
	return emit(d, l, out, nil)
}

// copyBufs recycles the buffers that stream the input through the hashes.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// copyPooled is io.Copy with a recycled buffer.
func copyPooled(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}

// emit writes a finished revision, feeds it to the running document hash
// and makes the document see it.
func emit(d *document, l *layout, out io.Writer, docHash hash.Hash) error {
	if _, err := out.Write(l.data); err != nil {
		return fmt.Errorf("pades: write revision: %w", err)
	}
	if docHash != nil {
		docHash.Write(l.data)
	}
	d.commit(l)
	return nil
}

// signature dictionary layout constants.
const byteRangeWidth = 64 // room for "[0 a b c]" padded with spaces

// sigDict is a signature or document timestamp dictionary whose /ByteRange
// and /Contents are filled in after layout.
type sigDict struct {
	entries     dict // everything but ByteRange and Contents
	contentsLen int  // bytes reserved for the CMS / token
}

// writeBody serialises the dictionary into b and returns the offsets,
// relative to where it starts, of the ByteRange placeholder and of the '<'
// opening /Contents.
func (s *sigDict) writeBody(b *bytes.Buffer) (int, int) {
	start := b.Len()
	writeObject(b, s.entries)
	b.Truncate(b.Len() - 2) // reopen the dictionary: drop ">>"
	b.WriteString("/ByteRange ")
	br := b.Len() - start
	b.WriteString(byteRangeBlank)
	b.WriteString("/Contents ")
	ct := b.Len() - start
	b.WriteByte('<')
	for n := 2 * s.contentsLen; n > 0; {
		k := min(n, len(hexZeros))
		b.WriteString(hexZeros[:k])
		n -= k
	}
	b.WriteString(">>>")
	return br, ct
}

// hexZeros fills /Contents placeholders; byteRangeBlank reserves the room
// for /ByteRange.
var (
	hexZeros       = strings.Repeat("0", 4096)
	byteRangeBlank = strings.Repeat(" ", byteRangeWidth)
)

// placeholder is where a signature's /Contents lives in a laid-out revision.
type placeholder struct {
	a, b int64 // absolute offsets of '<' and just after '>'
	rel  int64 // offset of the revision in the file
	l    *layout
}

// fill lays out the revision with the signature dictionary at sigRef and
// patches its /ByteRange.
func fill(rv *revision, sigRef ref, s sigDict) (*placeholder, error) {
	// Written straight into the revision: no separate body buffer.
	rv.objs[sigRef.num] = pendingObject{r: sigRef, sig: &s}
	l, err := rv.layout()
	if err != nil {
		return nil, err
	}
	base := rv.d.size
	start := l.bodyStart[sigRef.num]
	a := start + int64(l.sigCT)
	b := a + int64(2*s.contentsLen+2)
	total := base + int64(len(l.data))
	var brb [byteRangeWidth + 16]byte
	br := append(brb[:0], "[0 "...)
	br = strconv.AppendInt(br, a, 10)
	br = append(br, ' ')
	br = strconv.AppendInt(br, b, 10)
	br = append(br, ' ')
	br = strconv.AppendInt(br, total-b, 10)
	br = append(br, ']')
	if len(br) > byteRangeWidth {
		return nil, errors.New("pades: byte range does not fit")
	}
	copy(l.data[start-base+int64(l.sigBR):], br)
	return &placeholder{a: a, b: b, rel: base, l: l}, nil
}

// digest hashes the signed byte ranges of the revision on top of the state
// of everything before it.
func (p *placeholder) digest(prefix hashState) []byte {
	h := prefix.restore()
	h.Write(p.l.data[:p.a-p.rel])
	h.Write(p.l.data[p.b-p.rel:])
	return h.Sum(nil)
}

// put writes der, hex encoded, into the placeholder.
func (p *placeholder) put(der []byte) {
	hex.Encode(p.l.data[p.a-p.rel+1:], der)
}

// tokenSizeHinter is implemented by timestampers that know how long their
// tokens are (rfc3161.Client, cmstest.TSA).
type tokenSizeHinter interface{ TokenSizeHint() int }

const (
	// defaultTokenRoom is reserved for a first token from a TSA whose token
	// size is not known yet: public TSAs' tokens with their chains run 2-7 KB.
	// A longer one costs a second attempt, a shorter one padding.
	defaultTokenRoom = 4096
	// tokenSlack absorbs what varies between two tokens of one TSA (serial
	// and nonce lengths, signature length, fractional seconds).
	tokenSlack = 32
)

// tokenRoom is the room to reserve for a token from ts.
func tokenRoom(ts cms.Timestamper) int {
	if h, ok := ts.(tokenSizeHinter); ok && h.TokenSizeHint() > 0 {
		return h.TokenSizeHint() + tokenSlack
	}
	return defaultTokenRoom
}

// estimateCMS sizes the /Contents placeholder: the exact upper bound of the
// CMS for this key and chain, plus the room for the signature timestamp.
// When the token turns out longer, the revision is redone at the real size.
func estimateCMS(o *Options, ts cms.Timestamper) int {
	tok := 0
	if ts != nil {
		tok = tokenRoom(ts)
	}
	n, err := cms.EstimateDetachedSize(o.Signer.Public(), o.Certificates, cms.SignOptions{Hash: o.hash(), PSS: o.PSS, Timestamper: ts}, tok)
	if err != nil {
		return 8192 // SignDetached reports the cause
	}
	return n
}

// signRevision builds the signature revision; prefix is the hash state after
// the existing file.
func signRevision(ctx context.Context, d *document, prefix hashState, o *Options) (*layout, []byte, error) {
	rv := newRevision(d)
	sigRef := rv.alloc()
	signingTime := o.Time
	if signingTime.IsZero() {
		signingTime = time.Now()
	}
	pageNum, rect := 1, array{int64(0), int64(0), int64(0), int64(0)}
	var apRef ref
	var err error
	if f := o.field; f != nil {
		o.Visible = fieldAppearance(f, o.Visible)
	}
	if v := o.Visible; v != nil {
		pageNum = v.Page
		rect = array{v.Rect.X, v.Rect.Y, v.Rect.X + v.Rect.W, v.Rect.Y + v.Rect.H}
		apRef, err = rv.visibleAppearance(o, signingTime)
	} else {
		apRef = rv.alloc()
		rv.setStream(apRef, dict{"Type": name("XObject"), "Subtype": name("Form"), "BBox": array{int64(0), int64(0), int64(0), int64(0)}}, nil)
	}
	if isPlacement(err) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, codeErr(CodeSigningError, err, "appearance")
	}
	if len(o.ExtraAppearances) > 0 && o.Visible == nil {
		return nil, nil, errors.New("pades: extra appearances need a visible signature, and the field has no area")
	}
	for _, p := range o.ExtraAppearances {
		if _, err := rv.d.placeable(p.Page, p.Rect); isPlacement(err) {
			return nil, nil, err
		} else if err != nil {
			return nil, nil, codeErr(CodeSigningError, err, "appearance on page %d", p.Page)
		}
		if err := rv.addStamp(p.Page, p.Rect, apRef); err != nil {
			return nil, nil, codeErr(CodeSigningError, err, "add appearance on page %d", p.Page)
		}
	}
	var refs array
	if f := o.field; f != nil {
		if err := rv.fillField(*f, sigRef, apRef); err != nil {
			return nil, nil, codeErr(CodeSigningError, err, "sign into field %q", f.Name)
		}
		catRef, _, _ := d.catalog()
		lock, err := fieldLock(d, f.field.dict, catRef)
		if err != nil {
			return nil, nil, &FieldError{Field: f.Name, Err: err}
		}
		if lock != nil {
			refs = append(refs, lock)
		}
	} else if _, err := rv.addField(o.FieldName, sigRef, pageNum, rect, apRef); err != nil {
		return nil, nil, codeErr(CodeSigningError, err, "add signature field")
	}
	entries := dict{
		"Type":      name("Sig"),
		"Filter":    name("Adobe.PPKLite"),
		"SubFilter": name("ETSI.CAdES.detached"),
		"M":         pdfDate(signingTime),
	}
	for k, v := range map[name]string{"Name": o.Name, "Reason": o.Reason, "Location": o.Location, "ContactInfo": o.ContactInfo} {
		if v != "" {
			entries[k] = textString(v)
		}
	}
	if o.DocMDP != 0 {
		if o.DocMDP < 1 || o.DocMDP > 3 {
			return nil, nil, fmt.Errorf("pades: DocMDP must be 1, 2 or 3")
		}
		refs = append(array{dict{
			"Type":            name("SigRef"),
			"TransformMethod": name("DocMDP"),
			"TransformParams": dict{"Type": name("TransformParams"), "P": int64(o.DocMDP), "V": name("1.2")},
		}}, refs...)
		if err := rv.certify(sigRef); err != nil {
			return nil, nil, codeErr(CodeSigningError, err, "certify")
		}
	}
	if len(refs) > 0 {
		entries["Reference"] = refs
	}
	if err := rv.declarePAdES(); err != nil {
		return nil, nil, codeErr(CodeUnknownError, err, "declare PAdES")
	}
	var ts cms.Timestamper
	if o.Level != "" && o.Level != LevelBB {
		ts = o.Timestamper
	}
	size := estimateCMS(o, ts)
	for attempt := 0; attempt < 3; attempt++ {
		p, err := fill(rv, sigRef, sigDict{entries: entries, contentsLen: size})
		if err != nil {
			return nil, nil, err
		}
		der, err := cms.SignDetached(ctx, p.digest(prefix), o.Signer, o.Certificates, cms.SignOptions{Hash: o.hash(), PSS: o.PSS, Timestamper: ts})
		if err != nil {
			return nil, nil, codeErr(CodeSigningError, err, "create CMS signature")
		}
		if len(der) <= size {
			p.put(der)
			return p.l, der, nil
		}
		// Too small (a longer token than reserved): redo at the real size
		// plus slack for signature and token length jitter; only the
		// revision is re-hashed.
		size = len(der) + tokenSlack
	}
	return nil, nil, codeErr(CodeSigningError, nil, "signature does not fit its placeholder")
}
