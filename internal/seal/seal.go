// Package seal applies an organisation's seal to PDFs: a PAdES signature
// made with a seal credential (the platform seal, or an account's), at the
// highest level the deployment supports — B-LTA with a time-stamping
// authority and revocation data, B-T with a TSA only, B-B otherwise. The
// audit trail, merchant signing and packages are all sealed by this one
// function.
package seal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// ErrNotSignable means the document is encrypted, locked or damaged, as its
// pre-validation report says.
var ErrNotSignable = errors.New("the document cannot be signed (encrypted, locked or damaged; see its validation report)")

// Sealer seals PDFs.
type Sealer struct {
	Timestamper cms.Timestamper
	Revocation  pades.RevocationFunc
}

// Level is the PAdES level Seal produces.
func (s Sealer) Level() pades.Level {
	switch {
	case s.Timestamper != nil && s.Revocation != nil:
		return pades.LevelBLTA
	case s.Timestamper != nil:
		return pades.LevelBT
	}
	return pades.LevelBB
}

// Seal signs the PDF r (size bytes) with cred into w, as an incremental
// revision in the signature field field with reason.
func (s Sealer) Seal(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, cred pki.Credential, reason, field string) error {
	if cred.Key == nil || cred.Cert == nil {
		return errors.New("seal: no seal credential")
	}
	return pades.Sign(ctx, r, size, w, pades.Options{
		Signer: cred.Key, Certificates: append([]*x509.Certificate{cred.Cert}, cred.Chain...),
		Level: s.Level(), Name: cred.Cert.Subject.CommonName, Reason: reason,
		FieldName: field, Timestamper: s.Timestamper, Revocation: s.Revocation,
	})
}

// CredentialFunc returns the seal credential of an account.
type CredentialFunc func(ctx context.Context, scope account.Scope) (pki.Credential, error)

// Documents seals stored documents into new stored documents.
type Documents struct {
	Docs   *document.Service
	Sealer Sealer
	// Credential is the seal of an account.
	Credential CredentialFunc
}

// SealDocument seals the document id of scope and stores the result as a
// new document of scope (the original stays). The bytes stream from blob
// storage through a spool file to the signer and on to storage.
func (d *Documents) SealDocument(ctx context.Context, scope account.Scope, id, reason string) (*document.Document, error) {
	cred, err := d.Credential(ctx, scope)
	if err != nil {
		return nil, fmt.Errorf("seal credential: %w", err)
	}
	src, rc, err := d.Docs.Open(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if !src.Signable {
		return nil, fmt.Errorf("document %s: %w", id, ErrNotSignable)
	}
	f, err := os.CreateTemp("", "vellum-seal-*.pdf")
	if err != nil {
		return nil, fmt.Errorf("spool document: %w", err)
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	size, err := io.Copy(f, rc)
	if err != nil {
		return nil, fmt.Errorf("read document %s: %w", id, err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(d.Sealer.Seal(ctx, f, size, pw, cred, reason, "Seal"))
	}()
	up, err := d.Docs.Receive(ctx, pr)
	pr.CloseWithError(err) // unblocks the signer if storage gave up first
	<-done
	if err != nil {
		return nil, fmt.Errorf("seal document %s: %w", id, err)
	}
	defer up.Close()
	return d.Docs.Create(ctx, scope, up, document.Meta{Filename: sealedName(src.Filename), Title: src.Title, Description: src.Description})
}

func sealedName(filename string) string {
	const ext = ".pdf"
	if len(filename) > len(ext) && filename[len(filename)-len(ext):] == ext {
		filename = filename[:len(filename)-len(ext)]
	}
	name := filename + "-sealed.pdf"
	if len([]rune(name)) > document.MaxFilenameLen {
		return "sealed.pdf"
	}
	return name
}
