package envelope

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// maxApplyAttempts bounds how often a signature is redone because a
// parallel signer's revision landed first.
const maxApplyAttempts = 8

// revisionFile is a new document revision written to blob storage but not
// yet recorded: it becomes current only in the committing transaction.
type revisionFile struct {
	documentID string
	base       int // revision it was made from
	key        string
	sha256     string
	size       int64
}

// ApplySignature applies a recipient's recorded signature to every
// document as a new incremental PAdES revision signed with a certificate
// issued to them (approvals apply nothing), then opens the next routing
// group or schedules finalisation. Each revision is written to a fresh blob
// key first; the documents' current keys advance only in commit, guarded by
// their revision numbers, so however often this runs — concurrently or
// after a crash — exactly one signature per signer lands.
func (s *Service) ApplySignature(ctx context.Context, envelopeID, recipientID string, commit CommitFunc) error {
	var issuedSerial string
	var cred *credential
	for attempt := 0; attempt < maxApplyAttempts; attempt++ {
		env, err := s.store.readEnvelope(ctx, envelopeID)
		if err != nil {
			return err
		}
		r := env.recipient(recipientID)
		if r == nil || env.Status != StatusSent || r.AppliedAt != nil || r.SignedAt == nil {
			// Ended, already applied, or never signed: nothing to do.
			return commit(ctx, func(context.Context) error { return nil })
		}
		var revs []revisionFile
		if r.Role == RoleSigner {
			if cred == nil {
				if cred, err = s.issue(ctx, r); err != nil {
					return err
				}
				issuedSerial = cred.serial
			}
			if revs, err = s.signDocuments(ctx, env, r, cred); err != nil {
				s.dropRevisions(ctx, revs)
				return err
			}
		}
		err = commit(ctx, func(ctx context.Context) error {
			env, err := s.store.lockEnvelope(ctx, envelopeID)
			if err != nil {
				return err
			}
			r := env.recipient(recipientID)
			if r == nil || env.Status != StatusSent || r.AppliedAt != nil {
				return errSkip
			}
			if err := s.advanceDocuments(ctx, env, revs); err != nil {
				return err
			}
			now := s.now()
			r.AppliedAt = &now
			r.CertificateSerial = issuedSerial
			if err := s.store.markApplied(ctx, r, now, issuedSerial); err != nil {
				return err
			}
			details := map[string]string{"role": string(r.Role)}
			if issuedSerial != "" {
				details["certificateSerial"] = issuedSerial
			}
			if err := s.record(ctx, env, "recipient.signature_applied", System, r.ID, details); err != nil {
				return err
			}
			if err := s.advance(ctx, env, now); err != nil {
				return err
			}
			env.UpdatedAt = now
			if err := s.store.saveEnvelope(ctx, env); err != nil {
				return err
			}
			if env.CurrentOrder == 0 { // every signer and approver is done
				return s.Outbox.Enqueue(ctx, jobs.Task{Type: TaskFinalize, Key: env.ID, Queue: jobs.QueueCritical,
					Payload: taskPayload{EnvelopeID: env.ID}, Timeout: 10 * time.Minute})
			}
			return nil
		})
		switch {
		case err == nil:
			return nil
		case isDone(err):
			s.dropRevisions(ctx, revs)
			return nil
		case errors.Is(err, errConflict):
			s.dropRevisions(ctx, revs)
			continue
		default:
			s.dropRevisions(ctx, revs)
			return err
		}
	}
	return fmt.Errorf("apply signature of %s: documents kept changing for %d attempts: %w", recipientID, maxApplyAttempts, errConflict)
}

// advanceDocuments makes revs current, failing with errConflict if any
// document moved on since its revision was made.
func (s *Service) advanceDocuments(ctx context.Context, env *Envelope, revs []revisionFile) error {
	for _, rv := range revs {
		if err := s.settle(ctx, rv.key); err != nil {
			return err
		}
		if advanced, err := s.store.advanceDocument(ctx, env.ID, rv); err != nil {
			return err
		} else if !advanced {
			return errConflict
		}
		for i := range env.Documents {
			if d := &env.Documents[i]; d.DocumentID == rv.documentID {
				d.CurrentBlobKey, d.CurrentSHA256, d.CurrentSize, d.Revision = rv.key, rv.sha256, rv.size, rv.base+1
			}
		}
	}
	return nil
}

// signDocuments signs each document's current revision for r at PAdES
// B-LT: the CMS carries a signature time-stamp from the configured TSA, and
// a DSS revision right after it holds the certificates and OCSP responses
// of the signer's and the TSA's chains, captured now, while the short-lived
// signer certificate is valid. Finalize covers it all with a document
// timestamp (B-LTA), so the signature stays verifiable however long after
// its certificate expired the envelope completes.
func (s *Service) signDocuments(ctx context.Context, env *Envelope, r *Recipient, cred *credential) ([]revisionFile, error) {
	if s.Timestamper == nil {
		return nil, errors.New("envelope: no time-stamping authority configured for signature time-stamps")
	}
	level := pades.LevelBLT
	if s.Revocation == nil {
		level = pades.LevelBT
	}
	revocation := sameRevocation(s.Revocation)
	var revs []revisionFile
	for i, d := range env.Documents {
		opts := pades.Options{
			Signer: cred.key, Certificates: cred.chain, Level: level,
			Timestamper: s.Timestamper, Revocation: revocation,
			Name: r.Name, Reason: signReason(r), Location: "Vellum", ContactInfo: r.Email,
			FieldName: fmt.Sprintf("Signature-%s-%d", r.ID, i+1),
			Time:      *r.SignedAt,
		}
		for _, f := range env.fieldsOf(r.ID) {
			if f.DocumentID != d.DocumentID || (f.Type != FieldSignature && f.Type != FieldInitials) {
				continue
			}
			rect := pades.Rect{X: f.X, Y: f.Y, W: f.Width, H: f.Height}
			if opts.Visible != nil {
				// One signature per signer and document: its further
				// places (an anchor found on several pages) repeat its
				// appearance, covered by it.
				opts.ExtraAppearances = append(opts.ExtraAppearances, pades.Placement{Page: f.Page, Rect: rect})
				continue
			}
			opts.Visible = &pades.Visible{Page: f.Page, Rect: rect, Fallback: s.Fonts}
			if f.FieldName != "" {
				// Into the document's own field, at its rectangle.
				opts.Field, opts.FieldName = f.FieldName, ""
			}
			switch r.SignatureType {
			case "drawn":
				opts.Visible.Image = r.SignatureImage
			case "typed":
				opts.Visible.Signature = r.SignatureText
			}
		}
		rv, err := s.transform(ctx, env, d, func(in *os.File, size int64, out io.Writer) error {
			return pades.Sign(ctx, in, size, out, opts)
		})
		if err != nil {
			return revs, fmt.Errorf("sign document %s for %s: %w", d.DocumentID, r.ID, err)
		}
		revs = append(revs, rv)
	}
	return revs, nil
}

// sameRevocation fetches validation data once per set of certificates:
// every document of one signer needs the same, and embedding the same
// responses keeps the documents alike.
func sameRevocation(f pades.RevocationFunc) pades.RevocationFunc {
	if f == nil {
		return nil
	}
	cache := map[string]pades.ValidationData{}
	return func(ctx context.Context, certs []*x509.Certificate) (pades.ValidationData, error) {
		h := sha256.New()
		for _, c := range certs {
			sum := sha256.Sum256(c.Raw)
			h.Write(sum[:])
		}
		key := string(h.Sum(nil))
		if vd, ok := cache[key]; ok {
			return vd, nil
		}
		vd, err := f(ctx, certs)
		if err == nil {
			cache[key] = vd
		}
		return vd, err
	}
}

func signReason(r *Recipient) string {
	if r.SignatureType == "typed" && r.SignatureText != "" {
		return "Signed as \"" + r.SignatureText + "\""
	}
	return "Signed electronically"
}

// transform reads a document's current revision into a temporary file,
// lets fn write the next revision, and stores it under a fresh key.
func (s *Service) transform(ctx context.Context, env *Envelope, d Document, fn func(in *os.File, size int64, out io.Writer) error) (revisionFile, error) {
	in, size, err := s.spool(ctx, d.CurrentBlobKey)
	if err != nil {
		return revisionFile{}, err
	}
	defer removeTemp(in)
	out, err := os.CreateTemp("", "vellum-rev-*.pdf")
	if err != nil {
		return revisionFile{}, fmt.Errorf("spool revision: %w", err)
	}
	defer removeTemp(out)
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, h)}
	if err := fn(in, size, cw); err != nil {
		return revisionFile{}, err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return revisionFile{}, fmt.Errorf("rewind revision: %w", err)
	}
	key := fmt.Sprintf("envelopes/%s/%s/r%03d-%s.pdf", env.ID, d.DocumentID, d.Revision+1, randomHex(8))
	if err := s.putPending(ctx, env.ID, key, out, "application/pdf"); err != nil {
		return revisionFile{}, fmt.Errorf("store revision: %w", err)
	}
	return revisionFile{documentID: d.DocumentID, base: d.Revision, key: key,
		sha256: hex.EncodeToString(h.Sum(nil)), size: cw.n}, nil
}

// spool copies a blob into a temporary file (signing needs random access).
func (s *Service) spool(ctx context.Context, key string) (*os.File, int64, error) {
	rc, _, err := s.Blobs.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", key, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "vellum-doc-*.pdf")
	if err != nil {
		return nil, 0, fmt.Errorf("spool %s: %w", key, err)
	}
	n, err := io.Copy(f, rc)
	if err != nil {
		removeTemp(f)
		return nil, 0, fmt.Errorf("spool %s: %w", key, err)
	}
	return f, n, nil
}

func removeTemp(f *os.File) {
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
}

// dropRevisions deletes revisions that were never made current, and their
// pending rows; what cannot be deleted now the sweep deletes later.
func (s *Service) dropRevisions(ctx context.Context, revs []revisionFile) {
	ctx = context.WithoutCancel(ctx)
	for _, rv := range revs {
		if err := s.Blobs.Delete(ctx, rv.key); err != nil {
			s.Log.Warn("delete unused revision", "key", rv.key, "err", err)
			continue
		}
		if _, err := s.store.claimPending(ctx, rv.key); err != nil {
			s.Log.Warn("forget unused revision", "key", rv.key, "err", err)
		}
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// credential is an issued signing key with its chain (leaf first).
type credential struct {
	key    crypto.Signer
	chain  []*x509.Certificate
	serial string
}

// issue obtains a certificate for r. Names longer than a certificate's
// common name allows are shortened; the full name stays in the envelope.
func (s *Service) issue(ctx context.Context, r *Recipient) (*credential, error) {
	if s.PKI == nil {
		return nil, errors.New("envelope: no PKI configured to issue signer certificates")
	}
	name := r.Name
	if len([]rune(name)) > 64 {
		name = strings.TrimSpace(string([]rune(name)[:64]))
	}
	c, err := s.PKI.IssueSignerFor(ctx, pki.SignerSubject{Name: name, Email: r.Email, SerialNumber: r.verifiedSerial()})
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", r.ID, err)
	}
	return &credential{key: c.Key, chain: append([]*x509.Certificate{c.Cert}, c.Chain...),
		serial: strings.ToUpper(c.Cert.SerialNumber.Text(16))}, nil
}
