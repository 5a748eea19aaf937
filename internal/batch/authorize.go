package batch

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/person"
)

// taskPayload names the task a TaskSign job signs.
type taskPayload struct {
	TaskID string `json:"taskId"`
}

// Lookup returns batch hash in any scope, with its tasks and certificate:
// what the PIN page shows. The hash is the page's capability.
func (s *Service) Lookup(ctx context.Context, hash string) (*Batch, []Task, *person.Certificate, error) {
	var b Batch
	if err := s.DB.Conn(ctx).Where("hash = ?", hash).Take(&b).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil, nil, fmt.Errorf("batch %s: %w", hash, ErrNotFound)
		}
		return nil, nil, nil, fmt.Errorf("look up batch %s: %w", hash, err)
	}
	ts, err := s.tasks(ctx, hash)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := s.Persons.GetCertificate(ctx, b.Scope(), b.PersonID, b.CertificateID)
	if err != nil {
		return nil, nil, nil, err
	}
	return &b, ts, c, nil
}

// Authorizable reports whether the PIN page may take the PIN for b now.
func (b *Batch) Authorizable() bool {
	return (b.State == StateOpen || b.State == StateClosed) && b.TasksCount > 0
}

// Authorize takes the person's PIN for batch hash: a wrong one counts
// toward the certificate's lock (person.ErrWrongPIN, person.ErrLocked);
// the right one closes the batch, marks its tasks UNSIGNED and queues
// them for the worker, which signs with the key the PIN unlocks.
func (s *Service) Authorize(ctx context.Context, hash, pin string) (*Batch, error) {
	b, _, _, err := s.Lookup(ctx, hash)
	if err != nil {
		return nil, err
	}
	if !b.Authorizable() {
		if b.TasksCount == 0 {
			return nil, fmt.Errorf("batch %s: %w", hash, ErrEmpty)
		}
		return nil, fmt.Errorf("batch %s is %s: %w", hash, b.State, ErrNotAuthorizable)
	}
	g, err := s.Persons.Authorize(ctx, b.Scope(), b.CertificateID, pin, GrantLifetime)
	if err != nil {
		return nil, err
	}
	err = s.DB.WithTx(ctx, func(ctx context.Context) error {
		var cur Batch
		if err := s.DB.ForUpdate(s.DB.Conn(ctx).Where("hash = ?", hash), false).Take(&cur).Error; err != nil {
			return fmt.Errorf("batch %s: %w", hash, ErrNotFound)
		}
		if !cur.Authorizable() {
			return fmt.Errorf("batch %s is %s: %w", hash, cur.State, ErrNotAuthorizable)
		}
		now := s.now()
		cur.State, cur.GrantSealed, cur.GrantExpiresAt, cur.UpdatedAt = StateProcessing, g.Sealed, &g.ExpiresAt, now
		if err := s.DB.Conn(ctx).Model(&Batch{}).Where("hash = ?", hash).Updates(map[string]any{
			"state": cur.State, "grant_sealed": g.Sealed, "grant_expires_at": g.ExpiresAt, "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("authorise batch %s: %w", hash, err)
		}
		if err := s.DB.Conn(ctx).Model(&Task{}).Where("batch_hash = ? AND state = ?", hash, TaskNotReady).
			Updates(map[string]any{"state": TaskUnsigned, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("authorise batch %s: %w", hash, err)
		}
		var ids []string
		if err := s.DB.Conn(ctx).Model(&Task{}).Where("batch_hash = ?", hash).Order("seq").Pluck("id", &ids).Error; err != nil {
			return err
		}
		jobsToRun := make([]jobs.Task, 0, len(ids))
		for _, id := range ids {
			jobsToRun = append(jobsToRun, jobs.Task{Type: TaskSign, Key: id, Payload: taskPayload{TaskID: id},
				Queue: jobs.QueueCritical, MaxRetry: 5})
		}
		if err := s.Outbox.Enqueue(ctx, jobsToRun...); err != nil {
			return err
		}
		*b = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// OpenInput opens the data of task seq of batch hash, in any scope: the
// PIN page's preview. Only PDF tasks are shown.
func (s *Service) OpenInput(ctx context.Context, hash string, seq int) (io.ReadCloser, error) {
	var t Task
	err := s.DB.Conn(ctx).Where("batch_hash = ? AND seq = ? AND kind = ?", hash, seq, KindPDF).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if t.InputKey == "" {
		return nil, ErrNotFound // fetched only when signed
	}
	rc, _, err := s.Blobs.Get(ctx, t.InputKey)
	return rc, err
}
