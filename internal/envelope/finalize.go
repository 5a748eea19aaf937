package envelope

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/revocation"
)

// EventValidationDataUnavailable is the audit event of a finalisation that
// could not fetch the validation data of signatures made elsewhere.
const EventValidationDataUnavailable = "envelope.validation_data_unavailable"

// Finalize finishes an envelope. When every signer and approver of a SENT
// envelope is done it extends each document to PAdES B-LTA (a DSS with the
// signers' revocation data, then a document timestamp), renders and seals
// the audit trail, builds the zip package and, in one commit, makes the
// final revisions current and the envelope COMPLETED and queues the
// completion e-mails. For a declined, voided or expired envelope it seals
// the audit trail. Outputs go to fresh blob keys first, so a crash or a
// second run never records anything twice.
func (s *Service) Finalize(ctx context.Context, envelopeID string, commit CommitFunc) error {
	env, err := s.read(ctx, envelopeID)
	if err != nil {
		return err
	}
	switch {
	case env.Status == StatusSent && turnOrder(env) == 0:
		return s.complete(ctx, env, commit)
	case env.Status.Final() && env.AuditTrailKey == "":
		return s.sealEnded(ctx, env, commit)
	default:
		return commit(ctx, func(context.Context) error { return nil })
	}
}

func (s *Service) complete(ctx context.Context, env *Envelope, commit CommitFunc) error {
	var written []revisionFile
	drop := func() { s.dropRevisions(ctx, written) }
	finals := map[string]revisionFile{}
	var gaps []string
	for _, d := range env.Documents {
		rv, err := s.transform(ctx, env, d, func(in *os.File, size int64, out io.Writer) error {
			missed, err := s.extendLTA(ctx, env, in, size, out)
			for _, m := range missed {
				gaps = append(gaps, d.DocumentID+": "+m)
			}
			return err
		})
		if err != nil {
			drop()
			return fmt.Errorf("finalize %s: document %s: %w", env.ID, d.DocumentID, err)
		}
		written = append(written, rv)
		finals[d.DocumentID] = rv
	}
	// Before the audit trail is rendered, so the sealed one shows it too.
	if err := s.recordValidationGaps(ctx, env, gaps); err != nil {
		drop()
		return err
	}
	// The audit trail shows the final hashes the commit below records.
	view := *env
	view.Documents = append([]Document(nil), env.Documents...)
	for i := range view.Documents {
		rv := finals[view.Documents[i].DocumentID]
		view.Documents[i].CurrentSHA256, view.Documents[i].CurrentSize = rv.sha256, rv.size
		view.Documents[i].CurrentBlobKey = rv.key
	}
	now := s.now()
	view.Status, view.CompletedAt = StatusCompleted, &now
	trailKey, err := s.storeAuditTrail(ctx, &view)
	if err != nil {
		drop()
		return err
	}
	written = append(written, revisionFile{key: trailKey})
	pkgKey, err := s.buildPackage(ctx, env, finals)
	if err != nil {
		drop()
		return err
	}
	written = append(written, revisionFile{key: pkgKey})
	err = commit(ctx, func(ctx context.Context) error {
		env, err := s.lockByID(ctx, env.ID)
		if err != nil {
			return err
		}
		if env.Status != StatusSent || turnOrder(env) != 0 {
			return errSkip
		}
		var revs []revisionFile
		for _, d := range env.Documents {
			rv := finals[d.DocumentID]
			rv.base = d.Revision
			revs = append(revs, rv)
		}
		if err := s.advanceDocuments(ctx, env, revs); err != nil {
			return err
		}
		if err := s.settle(ctx, trailKey, pkgKey); err != nil {
			return err
		}
		env.Status, env.CompletedAt = StatusCompleted, &now
		env.AuditTrailKey, env.PackageKey = trailKey, pkgKey
		for i := range env.Recipients {
			if r := &env.Recipients[i]; r.Role == RoleCC {
				r.Status = RecipientCompleted
				if err := s.DB.Conn(ctx).Model(r).Update("status", r.Status).Error; err != nil {
					return fmt.Errorf("complete CC %s: %w", r.ID, err)
				}
			}
		}
		if err := s.closeSessions(ctx, env, now); err != nil {
			return err
		}
		env.Version++
		env.UpdatedAt = now
		if err := s.save(ctx, env); err != nil {
			return err
		}
		if err := s.record(ctx, env, "envelope.completed", System, "", nil); err != nil {
			return err
		}
		return s.notifyAll(ctx, env, notifyCompleted)
	})
	if err != nil {
		drop()
		if isDone(err) {
			return nil
		}
		return err
	}
	return nil
}

// sealEnded stores the sealed audit trail of an envelope that ended
// without completing.
func (s *Service) sealEnded(ctx context.Context, env *Envelope, commit CommitFunc) error {
	key, err := s.storeAuditTrail(ctx, env)
	if err != nil {
		return err
	}
	err = commit(ctx, func(ctx context.Context) error {
		res := s.DB.Conn(ctx).Model(&Envelope{}).Where("id = ? AND audit_trail_key = ''", env.ID).
			Update("audit_trail_key", key)
		if res.Error != nil {
			return fmt.Errorf("record audit trail of %s: %w", env.ID, res.Error)
		}
		if res.RowsAffected == 0 {
			return errSkip
		}
		return s.settle(ctx, key)
	})
	if err != nil {
		s.dropRevisions(ctx, []revisionFile{{key: key}})
		if isDone(err) {
			return nil
		}
		return err
	}
	return nil
}

// extendLTA makes a document PAdES B-LTA: a DSS revision with the
// validation data of every certificate its signatures and time-stamps rely
// on, then a document timestamp over everything. Each Vellum signer's own
// data went into the document when it signed (see signDocuments), while
// its short-lived certificate was valid; what is added here is current
// data for the certificates still valid — the time-stamp authorities'
// chains, which the document timestamp must show good now, and any
// certificate of a signature made elsewhere.
//
// Signatures made elsewhere (already in the uploaded PDF) get their data
// best effort: their certificates name the addresses to fetch from, so
// whoever made the PDF chooses them, and an unreachable or refused one must
// not hold the envelope back. What could not be had is returned, one line
// per signature, for the audit trail.
func (s *Service) extendLTA(ctx context.Context, env *Envelope, in *os.File, size int64, out io.Writer) ([]string, error) {
	if s.Timestamper == nil {
		return nil, errors.New("no time-stamping authority configured for B-LTA")
	}
	rep, err := pades.Verify(in, size, pades.VerifyOptions{})
	if err != nil {
		return nil, fmt.Errorf("read signatures: %w", err)
	}
	var ours []*x509.Certificate
	var foreign []pades.SignatureReport
	for _, sig := range rep.Signatures {
		if ownSignature(env, sig.FieldName) {
			ours = append(append(ours, sig.Certificates...), sig.TimestampCertificates...)
		} else {
			foreign = append(foreign, sig)
		}
	}
	var vd pades.ValidationData
	var gaps []string
	switch {
	case s.Revocation == nil:
		for _, sig := range rep.Signatures {
			for _, c := range append(append([]*x509.Certificate{}, sig.Certificates...), sig.TimestampCertificates...) {
				vd.Certs = append(vd.Certs, c.Raw)
			}
		}
	default:
		if len(ours) > 0 {
			if vd, err = s.Revocation(ctx, ours); err != nil {
				return nil, fmt.Errorf("revocation data: %w", err)
			}
		}
		for _, sig := range foreign {
			certs := append(append([]*x509.Certificate{}, sig.Certificates...), sig.TimestampCertificates...)
			if len(certs) == 0 {
				continue
			}
			more, err := s.Revocation(ctx, certs)
			if err != nil {
				gaps = append(gaps, fmt.Sprintf("signature %q: %s", sig.FieldName, db.Clip(err.Error(), 300)))
				for _, c := range certs {
					more.Certs = append(more.Certs, c.Raw)
				}
			}
			vd = mergeValidationData(vd, more)
		}
	}
	mid, err := os.CreateTemp("", "vellum-dss-*.pdf")
	if err != nil {
		return gaps, fmt.Errorf("spool DSS revision: %w", err)
	}
	defer removeTemp(mid)
	cw := &countWriter{w: mid}
	if err := pades.AddDSS(ctx, in, size, cw, vd); err != nil {
		return gaps, fmt.Errorf("add DSS: %w", err)
	}
	if err := pades.AddDocumentTimestamp(ctx, mid, cw.n, out, s.Timestamper); err != nil {
		return gaps, fmt.Errorf("add document timestamp: %w", err)
	}
	return gaps, nil
}

// ownSignature reports whether a signature field is one this envelope's
// signers made (see signDocuments for the name).
func ownSignature(env *Envelope, field string) bool {
	for _, r := range env.Recipients {
		if strings.HasPrefix(field, "Signature-"+r.ID+"-") {
			return true
		}
	}
	return false
}

// mergeValidationData appends b's items to a's, once each.
func mergeValidationData(a, b pades.ValidationData) pades.ValidationData {
	seen := map[string]bool{}
	for _, l := range [][][]byte{a.Certs, a.OCSPs, a.CRLs} {
		for _, x := range l {
			seen[string(x)] = true
		}
	}
	add := func(dst [][]byte, items [][]byte) [][]byte {
		for _, x := range items {
			if !seen[string(x)] {
				seen[string(x)] = true
				dst = append(dst, x)
			}
		}
		return dst
	}
	a.Certs, a.OCSPs, a.CRLs = add(a.Certs, b.Certs), add(a.OCSPs, b.OCSPs), add(a.CRLs, b.CRLs)
	return a
}

// recordValidationGaps notes in the envelope's audit trail which foreign
// signatures' validation data could not be embedded, once: a finalize that
// runs again after a crash finds the event and adds none.
func (s *Service) recordValidationGaps(ctx context.Context, env *Envelope, gaps []string) error {
	if len(gaps) == 0 {
		return nil
	}
	return s.DB.WithTx(ctx, func(ctx context.Context) error {
		chain, err := s.EventLog.Chain(ctx, env.ID)
		if err != nil {
			return err
		}
		for _, e := range chain.Events {
			if e.Type == EventValidationDataUnavailable {
				return nil
			}
		}
		return s.record(ctx, env, EventValidationDataUnavailable, System, "", map[string]string{
			"signatures": strings.Join(gaps, "\n"),
			"effect":     "embedded without revocation data; the envelope completes",
		})
	})
}

// storeAuditTrail renders, seals and stores the audit trail under a fresh key.
func (s *Service) storeAuditTrail(ctx context.Context, env *Envelope) (string, error) {
	raw, err := s.renderAuditTrail(ctx, env, true)
	if err != nil {
		return "", err
	}
	sealed, err := s.seal(ctx, raw)
	if err != nil {
		return "", fmt.Errorf("seal audit trail of %s: %w", env.ID, err)
	}
	key := fmt.Sprintf("envelopes/%s/audit-trail-%s.pdf", env.ID, randomHex(8))
	if err := s.putPending(ctx, env.ID, key, bytes.NewReader(sealed), "application/pdf"); err != nil {
		return "", fmt.Errorf("store audit trail of %s: %w", env.ID, err)
	}
	return key, nil
}

// seal signs a PDF with the platform seal: B-LTA when a TSA and revocation
// are configured, B-T with a TSA only, B-B otherwise.
func (s *Service) seal(ctx context.Context, pdf []byte) ([]byte, error) {
	if s.PKI == nil {
		return nil, errors.New("no PKI configured for the platform seal")
	}
	cred := s.PKI.Seal()
	opts := pades.Options{
		Signer: cred.Key, Certificates: append([]*x509.Certificate{cred.Cert}, cred.Chain...),
		Level: pades.LevelBB, Name: cred.Cert.Subject.CommonName, Reason: "Audit trail sealed by the platform",
		FieldName: "PlatformSeal", Timestamper: s.Timestamper, Revocation: s.Revocation,
	}
	switch {
	case s.Timestamper != nil && s.Revocation != nil:
		opts.Level = pades.LevelBLTA
	case s.Timestamper != nil:
		opts.Level = pades.LevelBT
	}
	var out bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, opts); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// buildPackage zips the final documents.
func (s *Service) buildPackage(ctx context.Context, env *Envelope, finals map[string]revisionFile) (string, error) {
	f, err := os.CreateTemp("", "vellum-zip-*.zip")
	if err != nil {
		return "", fmt.Errorf("spool package: %w", err)
	}
	defer removeTemp(f)
	zw := zip.NewWriter(f)
	names := map[string]int{}
	for _, d := range env.Documents {
		name := zipName(d.Filename, names)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: s.now()})
		if err != nil {
			return "", fmt.Errorf("package %s: %w", name, err)
		}
		rc, _, err := s.Blobs.Get(ctx, finals[d.DocumentID].key)
		if err != nil {
			return "", fmt.Errorf("package %s: %w", name, err)
		}
		_, err = io.Copy(w, rc)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("package %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	key := fmt.Sprintf("envelopes/%s/package-%s.zip", env.ID, randomHex(8))
	if err := s.putPending(ctx, env.ID, key, f, "application/zip"); err != nil {
		return "", fmt.Errorf("store package: %w", err)
	}
	return key, nil
}

// zipName makes a safe, unique entry name from a document's filename.
func zipName(filename string, used map[string]int) string {
	base := strings.Map(func(r rune) rune {
		if r < 32 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSuffix(filename, ".pdf"))
	if base == "" {
		base = "document"
	}
	name := base + ".pdf"
	if n := used[name]; n > 0 {
		name = fmt.Sprintf("%s (%d).pdf", base, n+1)
	}
	used[base+".pdf"]++
	return name
}

// --- downloads ------------------------------------------------------------

// Download is a file to stream to a client.
type Download struct {
	Filename    string
	ContentType string
	Size        int64 // -1 when unknown
	Body        io.ReadCloser
}

// SignedDocument returns the signed result of a COMPLETED envelope: the PDF
// when it has one document or documentID names one, else the zip.
func (s *Service) SignedDocument(ctx context.Context, scope account.Scope, id, documentID string) (*Download, error) {
	env, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if env.Status != StatusCompleted {
		return nil, stateErr("download the signed document of", env.Status)
	}
	var doc *Document
	switch {
	case documentID != "":
		for i := range env.Documents {
			if env.Documents[i].DocumentID == documentID {
				doc = &env.Documents[i]
			}
		}
		if doc == nil {
			return nil, ValidationError{{Field: "documentId", Reason: "is not a document of this envelope"}}
		}
	case len(env.Documents) == 1:
		doc = &env.Documents[0]
	}
	if doc != nil {
		rc, obj, err := s.Blobs.Get(ctx, doc.CurrentBlobKey)
		if err != nil {
			return nil, fmt.Errorf("open signed document: %w", err)
		}
		return &Download{Filename: signedName(doc.Filename), ContentType: "application/pdf", Size: obj.Size, Body: rc}, nil
	}
	rc, obj, err := s.Blobs.Get(ctx, env.PackageKey)
	if err != nil {
		return nil, fmt.Errorf("open package: %w", err)
	}
	return &Download{Filename: env.ID + "-signed.zip", ContentType: "application/zip", Size: obj.Size, Body: rc}, nil
}

// AuditTrail returns the audit-trail PDF: the sealed one once the envelope
// is final and sealed, an interim rendering while it is SENT (or until
// the sealing task has run).
func (s *Service) AuditTrail(ctx context.Context, scope account.Scope, id string) (*Download, bool, error) {
	env, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, false, err
	}
	if env.Status == StatusDraft {
		return nil, false, stateErr("download the audit trail of", env.Status)
	}
	name := env.ID + "-audit-trail.pdf"
	if env.AuditTrailKey != "" {
		rc, obj, err := s.Blobs.Get(ctx, env.AuditTrailKey)
		if err != nil {
			return nil, false, fmt.Errorf("open audit trail: %w", err)
		}
		return &Download{Filename: name, ContentType: "application/pdf", Size: obj.Size, Body: rc}, true, nil
	}
	raw, err := s.renderAuditTrail(ctx, env, false)
	if err != nil {
		return nil, false, err
	}
	return &Download{Filename: name, ContentType: "application/pdf", Size: int64(len(raw)), Body: io.NopCloser(bytes.NewReader(raw))}, false, nil
}

// --- revocation -------------------------------------------------------------

// RevocationFrom adapts a revocation.Fetcher to pades: each end-entity
// certificate among those given is chained (through the others and roots)
// and its chain's OCSP responses or CRLs are fetched and merged.
func RevocationFrom(f *revocation.Fetcher, roots ...*x509.Certificate) pades.RevocationFunc {
	return func(ctx context.Context, certs []*x509.Certificate) (pades.ValidationData, error) {
		pool := append(append([]*x509.Certificate{}, certs...), roots...)
		var vd pades.ValidationData
		seen := map[string]bool{}
		add := func(dst *[][]byte, items [][]byte) {
			for _, b := range items {
				k := sha256Hex(b)
				if !seen[k] {
					seen[k] = true
					*dst = append(*dst, b)
				}
			}
		}
		done := map[string]bool{}
		for _, c := range certs {
			if c.IsCA || done[string(c.Raw)] {
				continue
			}
			done[string(c.Raw)] = true
			chain := []*x509.Certificate{c}
			for cur := c; len(chain) < 6; {
				if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
					break
				}
				var issuer *x509.Certificate
				for _, cand := range pool {
					if bytes.Equal(cand.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(cand) == nil {
						issuer = cand
						break
					}
				}
				if issuer == nil {
					break
				}
				chain = append(chain, issuer)
				cur = issuer
			}
			if len(chain) < 2 {
				add(&vd.Certs, [][]byte{c.Raw})
				continue
			}
			data, err := f.Fetch(ctx, chain)
			if err != nil {
				return vd, fmt.Errorf("revocation data for %q: %w", c.Subject.CommonName, err)
			}
			add(&vd.Certs, data.Certs)
			add(&vd.OCSPs, data.OCSPs)
			add(&vd.CRLs, data.CRLs)
		}
		return vd, nil
	}
}
