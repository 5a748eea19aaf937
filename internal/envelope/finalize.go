package envelope

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
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
	env, err := s.store.readEnvelope(ctx, envelopeID)
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
		env, err := s.store.lockEnvelope(ctx, env.ID)
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
				if err := s.store.setRecipientStatus(ctx, r); err != nil {
					return err
				}
			}
		}
		if err := s.closeSessions(ctx, env, now); err != nil {
			return err
		}
		env.Version++
		env.UpdatedAt = now
		if err := s.store.saveEnvelope(ctx, env); err != nil {
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
		if set, err := s.store.setAuditTrailKey(ctx, env.ID, key); err != nil {
			return err
		} else if !set {
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
