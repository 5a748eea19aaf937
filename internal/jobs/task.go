// Package jobs runs background work through Asynq with a transactional outbox
// in front of it: a task is a database row written in the same transaction as
// the state change that implies it, relayed to Redis by the Dispatcher and
// marked finished by the worker. Redis may lose everything; the database
// remembers what is unfinished and the dispatcher enqueues it again.
package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Queue names, each with a weight: workers pull from heavier queues more often.
const (
	QueueCritical = "critical" // signing and sealing: a signer is waiting
	QueueDefault  = "default"
	QueueMail     = "mail"
	QueueWebhooks = "webhooks"
	QueueLow      = "low" // sweeps, pruning
)

// Queues maps each queue to its priority weight.
var Queues = map[string]int{
	QueueCritical: 6,
	QueueMail:     4,
	QueueWebhooks: 4,
	QueueDefault:  3,
	QueueLow:      1,
}

// Task is a unit of background work to commit with a state change.
type Task struct {
	// Type names the handler, e.g. "envelope:finalize".
	Type string
	// Key makes the task's id deterministic: the id is Type + ":" + Key, so
	// committing the same task twice stores it once and Asynq refuses a
	// duplicate while the first is still queued.
	Key string
	// Payload is marshalled to JSON unless it is already []byte.
	Payload any
	// Queue defaults to QueueDefault.
	Queue string
	// RunAt delays the task; zero means now.
	RunAt time.Time
	// MaxRetry defaults to 10; Timeout to 5 minutes.
	MaxRetry int
	Timeout  time.Duration
}

// ID is the task's deterministic identifier.
func (t Task) ID() string { return t.Type + ":" + t.Key }

func (t Task) validate() error {
	if t.Type == "" || t.Key == "" {
		return errors.New("task needs a type and a key")
	}
	if strings.Contains(t.ID(), "#") {
		// '#' separates the takeover count in Asynq task ids (rowID).
		return fmt.Errorf("task %s: '#' is reserved", t.ID())
	}
	if t.Queue != "" {
		if _, ok := Queues[t.Queue]; !ok {
			return fmt.Errorf("task %s: unknown queue %q", t.ID(), t.Queue)
		}
	}
	return nil
}

func (t Task) payloadBytes() ([]byte, error) {
	switch p := t.Payload.(type) {
	case nil:
		return []byte("{}"), nil
	case []byte:
		return p, nil
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("task %s: marshal payload: %w", t.ID(), err)
		}
		return b, nil
	}
}

// Status values of an outbox row.
const (
	StatusPending  = "pending"  // committed, not yet in Redis
	StatusEnqueued = "enqueued" // handed to Asynq
	StatusRunning  = "running"  // claimed by a worker until claimed_until, renewed while it runs
	StatusDone     = "done"
	StatusFailed   = "failed" // retries exhausted
)

// record is the outbox_tasks row.
type record struct {
	ID             string `gorm:"primaryKey"`
	Type           string
	Queue          string
	Payload        []byte
	Status         string
	MaxRetry       int
	TimeoutSeconds int
	RunAt          time.Time
	Attempts       int
	Relays         int
	RelayedAt      *time.Time
	ClaimedUntil   *time.Time
	ClaimToken     string
	Takeovers      int
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	FinishedAt     *time.Time
}

func (record) TableName() string { return "outbox_tasks" }
