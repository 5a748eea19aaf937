// Package audit is the append-only event log of envelopes: every state change
// of an envelope or a signing session is an Event, chained to the previous
// event of the same envelope by SHA-256, so that removing, reordering or
// altering an event breaks the chain. The audit-trail PDF prints the chain
// and webhooks are fanned out alongside it.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
)

// GenesisHash is the prev_hash of an envelope's first event.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ErrBrokenChain means a stored event does not hash to what the chain says.
var ErrBrokenChain = errors.New("audit: event hash chain is broken")

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

// Log appends and reads events.
type Log struct{ db *db.DB }

// NewLog returns the event log over database.
func NewLog(database *db.DB) *Log { return &Log{db: database} }

// Append adds e after the envelope's last event and returns it with its
// sequence number and hashes filled in. Callers hold the envelope's row lock
// in the transaction carried by ctx, which serialises appends per envelope;
// the (envelope_id, seq) uniqueness is the backstop.
func (l *Log) Append(ctx context.Context, e Event) (*Event, error) {
	var last Event
	q := l.db.Conn(ctx).Where("envelope_id = ?", e.EnvelopeID).Order("seq DESC").Limit(1).Find(&last)
	if q.Error != nil {
		return nil, fmt.Errorf("audit: read last event of %s: %w", e.EnvelopeID, q.Error)
	}
	e.PrevHash = GenesisHash
	e.Seq = 1
	if q.RowsAffected > 0 {
		e.PrevHash = last.Hash
		e.Seq = last.Seq + 1
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
	e.Hash = hashOf(&e)
	if err := l.db.Conn(ctx).Create(&e).Error; err != nil {
		return nil, fmt.Errorf("audit: append %s to %s: %w", e.Type, e.EnvelopeID, err)
	}
	return &e, nil
}

// List returns the envelope's events in order.
func (l *Log) List(ctx context.Context, envelopeID string) ([]Event, error) {
	var out []Event
	if err := l.db.Conn(ctx).Where("envelope_id = ?", envelopeID).Order("seq").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("audit: list events of %s: %w", envelopeID, err)
	}
	return out, nil
}

// Verify checks that events (one envelope's, in order) form an unbroken chain.
func Verify(events []Event) error {
	prev := GenesisHash
	for i := range events {
		e := &events[i]
		if e.Seq != i+1 || e.PrevHash != prev || hashOf(e) != e.Hash {
			return fmt.Errorf("%w at event %d (%s)", ErrBrokenChain, e.Seq, e.Type)
		}
		prev = e.Hash
	}
	return nil
}

// hashOf is SHA-256 over the previous hash and a canonical JSON encoding
// of the event's content (fixed field order; maps are sorted by encoding/json).
func hashOf(e *Event) string {
	body, _ := json.Marshal(struct {
		Seq            int               `json:"seq"`
		Type           string            `json:"type"`
		At             string            `json:"at"`
		Actor          string            `json:"actor"`
		RecipientID    string            `json:"recipientId"`
		IP             string            `json:"ip"`
		UserAgent      string            `json:"userAgent"`
		DocumentHashes []DocumentHash    `json:"documentHashes"`
		Details        map[string]string `json:"details"`
	}{e.Seq, e.Type, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.RecipientID, e.IP, e.UserAgent, e.DocumentHashes, e.Details})
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
