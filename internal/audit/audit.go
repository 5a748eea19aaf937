// Package audit is the append-only event log of envelopes: every state change
// of an envelope or a signing session is an Event, chained to the previous
// event of the same envelope by SHA-256, starting from a hash of the envelope
// id, so that removing, reordering, altering or moving an event to another
// envelope breaks the chain. The chain's newest event is also kept as its
// head, so removing the last events breaks it too. The audit-trail PDF
// prints the chain and webhooks are fanned out alongside it.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
)

// GenesisHash is the prev_hash of the first event of a version 1 chain
// (before chains covered the envelope id).
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Chain versions.
const (
	// V1 chains start at GenesisHash and do not hash the envelope id.
	V1 = 1
	// V2 chains start at Genesis(envelopeID) and hash it into every event.
	V2 = 2
)

// ErrBrokenChain means a stored event does not hash to what the chain says.
var ErrBrokenChain = errors.New("audit: event hash chain is broken")

// Genesis is the prev_hash of the first event of envelopeID's chain.
func Genesis(envelopeID string) string {
	sum := sha256.Sum256([]byte("vellum audit chain v2\x00" + envelopeID))
	return hex.EncodeToString(sum[:])
}

// DocumentHash is the SHA-256 of one document as it stood at the event.
type DocumentHash struct {
	DocumentID string `json:"documentId"`
	SHA256     string `json:"sha256"`
}

// Event is one entry of an envelope's log.
type Event struct {
	ID          string `gorm:"primaryKey"`
	EnvelopeID  string
	Seq         int
	Type        string
	At          time.Time
	Actor       string // "api:<key id>", "recipient:<id>", "system"
	RecipientID string
	IP          string
	UserAgent   string
	// DocumentHashes are the documents' current SHA-256 at the time.
	DocumentHashes []DocumentHash `gorm:"serializer:json"`
	// Details carry event-specific facts (reason, certificate serial…).
	Details  map[string]string `gorm:"serializer:json"`
	PrevHash string
	Hash     string
}

// TableName maps Event to its table.
func (Event) TableName() string { return "envelope_events" }

// Head is the newest event of an envelope's chain, as recorded at append.
type Head struct {
	EnvelopeID string `gorm:"primaryKey"`
	Seq        int
	Hash       string
	Version    int
}

// TableName maps Head to its table.
func (Head) TableName() string { return "envelope_event_heads" }

// Log appends and reads events.
type Log struct{ db *db.DB }

// NewLog returns the event log over database.
func NewLog(database *db.DB) *Log { return &Log{db: database} }

// Append adds e after the envelope's last event and returns it with its
// sequence number and hashes filled in. Callers hold the envelope's row lock
// in the transaction carried by ctx, which serialises appends per envelope;
// the (envelope_id, seq) uniqueness is the backstop.
func (l *Log) Append(ctx context.Context, e Event) (*Event, error) {
	head, err := l.Head(ctx, e.EnvelopeID)
	if err != nil {
		return nil, err
	}
	e.PrevHash, e.Seq = Genesis(e.EnvelopeID), 1
	if head != nil {
		e.PrevHash, e.Seq = head.Hash, head.Seq+1
	} else {
		head = &Head{EnvelopeID: e.EnvelopeID, Version: V2}
	}
	if e.ID == "" {
		e.ID = ident.New("evt")
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	// Stored timestamps keep microseconds; hash what will be read back.
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if e.DocumentHashes == nil {
		e.DocumentHashes = []DocumentHash{}
	}
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	e.Hash = hashOf(&e, head.Version)
	if err := l.db.Conn(ctx).Create(&e).Error; err != nil {
		return nil, fmt.Errorf("audit: append %s to %s: %w", e.Type, e.EnvelopeID, err)
	}
	head.Seq, head.Hash = e.Seq, e.Hash
	err = l.db.Conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "envelope_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"seq", "hash", "version"}),
	}).Create(head).Error
	if err != nil {
		return nil, fmt.Errorf("audit: record head of %s: %w", e.EnvelopeID, err)
	}
	return &e, nil
}

// Head returns the recorded head of the envelope's chain; nil when the
// envelope has no events.
func (l *Log) Head(ctx context.Context, envelopeID string) (*Head, error) {
	var h Head
	q := l.db.Conn(ctx).Where("envelope_id = ?", envelopeID).Limit(1).Find(&h)
	if q.Error != nil {
		return nil, fmt.Errorf("audit: read head of %s: %w", envelopeID, q.Error)
	}
	if q.RowsAffected == 0 {
		return nil, nil
	}
	return &h, nil
}

// List returns the envelope's events in order.
func (l *Log) List(ctx context.Context, envelopeID string) ([]Event, error) {
	var out []Event
	if err := l.db.Conn(ctx).Where("envelope_id = ?", envelopeID).Order("seq").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("audit: list events of %s: %w", envelopeID, err)
	}
	return out, nil
}

// Chain is an envelope's events with their head and whether they verify.
type Chain struct {
	Events []Event
	Head   *Head
	// Broken is nil when the chain verifies, else an error wrapping
	// ErrBrokenChain that says where it breaks.
	Broken error
}

// Chain reads and verifies the envelope's chain.
func (l *Log) Chain(ctx context.Context, envelopeID string) (*Chain, error) {
	events, err := l.List(ctx, envelopeID)
	if err != nil {
		return nil, err
	}
	head, err := l.Head(ctx, envelopeID)
	if err != nil {
		return nil, err
	}
	return &Chain{Events: events, Head: head, Broken: Verify(envelopeID, events, head)}, nil
}

// Verify checks that events (one envelope's, in order) form an unbroken
// chain from the envelope's genesis to head. head may be nil only when
// there are no events.
func Verify(envelopeID string, events []Event, head *Head) error {
	if head == nil {
		if len(events) > 0 {
			return fmt.Errorf("%w: %d events but no recorded head", ErrBrokenChain, len(events))
		}
		return nil
	}
	version, prev := head.Version, Genesis(envelopeID)
	if version == V1 {
		prev = GenesisHash
	} else if version != V2 {
		return fmt.Errorf("%w: unknown chain version %d", ErrBrokenChain, version)
	}
	for i := range events {
		e := &events[i]
		if e.EnvelopeID != envelopeID || e.Seq != i+1 || e.PrevHash != prev || hashOf(e, version) != e.Hash {
			return fmt.Errorf("%w at event %d (%s)", ErrBrokenChain, i+1, e.Type)
		}
		prev = e.Hash
	}
	if n := len(events); n != head.Seq || prev != head.Hash {
		return fmt.Errorf("%w: the chain ends at event %d but its head is event %d", ErrBrokenChain, n, head.Seq)
	}
	return nil
}

// hashOf is SHA-256 over the previous hash and a canonical JSON encoding
// of the event's content (fixed field order; maps are sorted by
// encoding/json); version 2 includes the envelope id.
func hashOf(e *Event, version int) string {
	envelopeID := ""
	if version >= V2 {
		envelopeID = e.EnvelopeID
	}
	body, _ := json.Marshal(struct {
		EnvelopeID     string            `json:"envelopeId,omitempty"`
		Seq            int               `json:"seq"`
		Type           string            `json:"type"`
		At             string            `json:"at"`
		Actor          string            `json:"actor"`
		RecipientID    string            `json:"recipientId"`
		IP             string            `json:"ip"`
		UserAgent      string            `json:"userAgent"`
		DocumentHashes []DocumentHash    `json:"documentHashes"`
		Details        map[string]string `json:"details"`
	}{envelopeID, e.Seq, e.Type, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.RecipientID, e.IP, e.UserAgent, e.DocumentHashes, e.Details})
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
