package jobs

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/vellum-sign/vellum/internal/db"
)

// Outbox writes tasks into the database.
type Outbox struct {
	db   *db.DB
	kick chan struct{}
}

// NewOutbox returns an outbox over database.
func NewOutbox(database *db.DB) *Outbox {
	return &Outbox{db: database, kick: make(chan struct{}, 1)}
}

// Enqueue records t in the transaction carried by ctx (or on its own when
// there is none). A task whose id is already recorded is not recorded again.
// Once the transaction commits the local dispatcher is woken at once.
func (o *Outbox) Enqueue(ctx context.Context, tasks ...Task) error {
	now := time.Now().UTC()
	for _, t := range tasks {
		if err := t.validate(); err != nil {
			return err
		}
		payload, err := t.payloadBytes()
		if err != nil {
			return err
		}
		rec := record{
			ID: t.ID(), Type: t.Type, Queue: t.Queue, Payload: payload, Status: StatusPending,
			MaxRetry: t.MaxRetry, TimeoutSeconds: int(t.Timeout / time.Second),
			RunAt: t.RunAt.UTC(), CreatedAt: now, UpdatedAt: now,
		}
		if rec.Queue == "" {
			rec.Queue = QueueDefault
		}
		if rec.MaxRetry <= 0 {
			rec.MaxRetry = 10
		}
		if rec.TimeoutSeconds <= 0 {
			rec.TimeoutSeconds = 300
		}
		if t.RunAt.IsZero() {
			rec.RunAt = now
		}
		err = o.db.Conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rec).Error
		if err != nil {
			return fmt.Errorf("record task %s: %w", rec.ID, err)
		}
	}
	db.AfterCommit(ctx, o.wake)
	return nil
}

func (o *Outbox) wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// State is what the outbox knows of one task.
type State struct {
	ID         string
	Type       string
	Status     string
	Attempts   int
	Relays     int
	LastError  string
	FinishedAt *time.Time
}

// Get returns the state of the task with id.
func (o *Outbox) Get(ctx context.Context, id string) (State, error) {
	var r record
	if err := o.db.Conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return State{}, fmt.Errorf("get task %s: %w", id, err)
	}
	return State{ID: r.ID, Type: r.Type, Status: r.Status, Attempts: r.Attempts, Relays: r.Relays,
		LastError: r.LastError, FinishedAt: r.FinishedAt}, nil
}

// Unfinished counts tasks not yet done or failed.
func (o *Outbox) Unfinished(ctx context.Context) (int64, error) {
	var n int64
	err := o.db.Conn(ctx).Model(&record{}).Where("status IN ?", []string{StatusPending, StatusEnqueued, StatusRunning}).Count(&n).Error
	return n, err
}

// RequeueUnfinished marks every enqueued or running task pending, for a
// process that knows Redis started empty (the in-process one of `vellum
// dev`): the dispatcher relays them at once instead of after RelayAfter.
func (o *Outbox) RequeueUnfinished(ctx context.Context) (int64, error) {
	res := o.db.Conn(ctx).Model(&record{}).Where("status IN ?", []string{StatusEnqueued, StatusRunning}).
		Updates(map[string]any{"status": StatusPending, "claimed_until": nil, "claim_token": "", "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return 0, fmt.Errorf("requeue unfinished tasks: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// requeueEnqueued marks every enqueued task pending, for a Redis that lost
// them: running ones keep their live claims (a dead worker's run out and
// are taken over).
func (o *Outbox) requeueEnqueued(ctx context.Context) (int64, error) {
	res := o.db.Conn(ctx).Model(&record{}).Where("status = ?", StatusEnqueued).
		Updates(map[string]any{"status": StatusPending, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return 0, fmt.Errorf("requeue enqueued tasks: %w", res.Error)
	}
	return res.RowsAffected, nil
}
