package envelope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vellum-sign/vellum/internal/jobs"
)

// Task types of the envelope workflow.
const (
	// TaskApply applies one recipient's signature (or approval) to the
	// documents and advances the routing.
	TaskApply = "envelope:apply-signature"
	// TaskFinalize makes a completed envelope's documents B-LTA, seals the
	// audit trail and builds the package; for a declined, voided or
	// expired envelope it seals the audit trail.
	TaskFinalize = "envelope:finalize"
	// TaskNotify sends one e-mail.
	TaskNotify = "envelope:notify"
	// TaskSweep expires envelopes and sessions and sends reminders.
	TaskSweep = "envelope:sweep"
)

type taskPayload struct {
	EnvelopeID  string `json:"envelopeId"`
	RecipientID string `json:"recipientId,omitempty"`
}

// CommitFunc runs fn in the transaction that also finishes the current
// task (jobs.Complete in a worker), so fn's effects happen exactly once.
type CommitFunc func(ctx context.Context, fn func(ctx context.Context) error) error

// RegisterTasks wires the envelope task handlers into a worker.
func (s *Service) RegisterTasks(w *jobs.Worker) {
	commit := func(ctx context.Context, fn func(ctx context.Context) error) error {
		return jobs.Complete(ctx, s.DB, fn)
	}
	w.Handle(TaskApply, func(ctx context.Context, d jobs.Delivery) error {
		var p taskPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return fmt.Errorf("%s payload: %w", TaskApply, err)
		}
		return s.ApplySignature(ctx, p.EnvelopeID, p.RecipientID, commit)
	})
	w.Handle(TaskFinalize, func(ctx context.Context, d jobs.Delivery) error {
		var p taskPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return fmt.Errorf("%s payload: %w", TaskFinalize, err)
		}
		return s.Finalize(ctx, p.EnvelopeID, commit)
	})
	w.Handle(TaskNotify, func(ctx context.Context, d jobs.Delivery) error {
		var p notifyPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return fmt.Errorf("%s payload: %w", TaskNotify, err)
		}
		return s.Notify(ctx, p)
	})
	w.Handle(TaskSweep, func(ctx context.Context, _ jobs.Delivery) error {
		_, err := s.Sweep(ctx)
		return err
	})
}

// SweepInterval is how often the Sweeper schedules a sweep.
const SweepInterval = time.Minute

// Sweeper is the background loop that schedules TaskSweep every
// SweepInterval. The task key is the minute, so any number of worker
// processes schedule each sweep once.
func (s *Service) Sweeper() jobs.Periodic {
	return jobs.Periodic{Name: "envelope sweep scheduling", Interval: SweepInterval, Run: func(ctx context.Context) error {
		key := s.Now().UTC().Truncate(SweepInterval).Format("20060102T1504")
		return s.Outbox.Enqueue(ctx, jobs.Task{Type: TaskSweep, Key: key, Queue: jobs.QueueLow})
	}}
}

// errSkip rolls back a commit whose work turned out to be done already.
var errSkip = errors.New("nothing to do")

// errConflict means a document moved on under a signature being applied;
// the caller redoes its work on the new revision.
var errConflict = errors.New("document revision changed")

// isDone reports whether a commit error means the work is already done.
func isDone(err error) bool {
	return errors.Is(err, errSkip) || errors.Is(err, jobs.ErrAlreadyDone)
}
