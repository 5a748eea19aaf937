package pades

import (
	"context"
	"crypto"
	"fmt"
	"io"

	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// AddDocumentTimestamp appends a revision with a document timestamp
// (/Type /DocTimeStamp, /SubFilter /ETSI.RFC3161): its /Contents is an RFC
// 3161 token over the SHA-256 of the byte ranges, i.e. of the whole file but
// the token. It writes the whole file to w. Called after AddDSS it turns a
// B-LT file into B-LTA, and extends a B-LTA file again later.
func AddDocumentTimestamp(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, ts cms.Timestamper) error {
	d, err := openDocument(r, size)
	if err != nil {
		return codeErr(CodeUnknownError, err, "cannot read PDF")
	}
	// Validation data and document timestamps are what even a document
	// certified with "no changes" (DocMDP P=1) admits (ETSI EN 319 142-1).
	if d.trailer["Encrypt"] != nil {
		return ErrEncrypted
	}
	h := crypto.SHA256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), io.NewSectionReader(r, 0, size)); err != nil {
		return fmt.Errorf("pades: copy input: %w", err)
	}
	st, err := snapshot(crypto.SHA256, h)
	if err != nil {
		return err
	}
	l, err := docTimestampRevision(ctx, d, st, ts)
	if err != nil {
		return err
	}
	_, err = w.Write(l.data)
	return err
}

func docTimestampRevision(ctx context.Context, d *document, prefix hashState, ts cms.Timestamper) (*layout, error) {
	rv := newRevision(d)
	sigRef := rv.alloc()
	apRef := rv.alloc()
	rv.setStream(apRef, dict{"Type": name("XObject"), "Subtype": name("Form"), "BBox": array{int64(0), int64(0), int64(0), int64(0)}}, nil)
	if _, err := rv.addField("", sigRef, 1, array{int64(0), int64(0), int64(0), int64(0)}, apRef); err != nil {
		return nil, codeErr(CodeSigningError, err, "add document timestamp field")
	}
	if err := rv.declarePAdES(); err != nil {
		return nil, codeErr(CodeUnknownError, err, "declare PAdES")
	}
	entries := dict{
		"Type":      name("DocTimeStamp"),
		"Filter":    name("Adobe.PPKLite"),
		"SubFilter": name("ETSI.RFC3161"),
	}
	size := tokenRoom(ts)
	for attempt := 0; attempt < 3; attempt++ {
		p, err := fill(rv, sigRef, sigDict{entries: entries, contentsLen: size})
		if err != nil {
			return nil, err
		}
		tok, err := ts.Timestamp(ctx, p.digest(prefix), crypto.SHA256)
		if err != nil {
			return nil, codeErr(CodeSigningError, err, "document timestamp")
		}
		if _, err := rfc3161.ParseToken(tok); err != nil {
			return nil, codeErr(CodeSigningError, err, "document timestamp token")
		}
		if len(tok) <= size {
			p.put(tok)
			return p.l, nil
		}
		size = len(tok) + tokenSlack
	}
	return nil, codeErr(CodeSigningError, nil, "document timestamp does not fit its placeholder")
}
