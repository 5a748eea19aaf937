package envelope

import (
	"context"
	"fmt"
	"io"
	"time"
)

// OrphanGrace is how long a blob written ahead of its commit may stay
// uncommitted before the sweep deletes it: far longer than any signing or
// finalisation takes, so only a crash's leftovers are old enough.
const OrphanGrace = time.Hour

// pendingBlob records a blob written ahead of the transaction that makes
// it current.
type pendingBlob struct {
	BlobKey    string `gorm:"primaryKey"`
	EnvelopeID string
	CreatedAt  time.Time
}

// TableName maps pendingBlob to its table.
func (pendingBlob) TableName() string { return "pending_blobs" }

// putPending writes a blob that a later transaction will make current.
// The pending row commits first, so a crash at any point after leaves a
// record of the blob for the sweep.
func (s *Service) putPending(ctx context.Context, envelopeID, key string, r io.Reader, contentType string) error {
	if err := s.store.addPending(ctx, pendingBlob{BlobKey: key, EnvelopeID: envelopeID, CreatedAt: s.now()}); err != nil {
		return err
	}
	if _, err := s.Blobs.Put(ctx, key, r, contentType); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// settle marks blobs as committed, inside the transaction that makes them
// current. A pending row the sweep already took means the blob may be
// gone: errConflict makes the caller write a new one.
func (s *Service) settle(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	n, err := s.store.settlePending(ctx, keys)
	if err != nil {
		return err
	}
	if n != int64(len(keys)) {
		return errConflict
	}
	return nil
}

// SweepOrphans deletes blobs whose pending row is older than OrphanGrace:
// written by a run that crashed (or lost its database connection) before
// committing. Each row is claimed in its own transaction before its blob
// is deleted, so a late commit of the same blob fails and is redone
// instead of pointing at a deleted blob.
func (s *Service) SweepOrphans(ctx context.Context) (int, error) {
	rows, err := s.store.pendingBefore(ctx, s.now().Add(-OrphanGrace))
	if err != nil {
		return 0, fmt.Errorf("sweep orphans: %w", err)
	}
	deleted := 0
	for _, row := range rows {
		claimed, err := s.store.claimPending(ctx, row.BlobKey)
		if err != nil {
			return deleted, fmt.Errorf("sweep orphans: %w", err)
		}
		if !claimed {
			continue // committed or claimed meanwhile
		}
		if err := s.Blobs.Delete(ctx, row.BlobKey); err != nil {
			// Put the claim back so the next sweep tries again.
			if rerr := s.store.addPending(ctx, row); rerr != nil {
				s.Log.Warn("orphaned blob left behind", "key", row.BlobKey, "err", err, "restore", rerr)
			}
			return deleted, fmt.Errorf("sweep orphans: delete %s: %w", row.BlobKey, err)
		}
		deleted++
	}
	return deleted, nil
}
