// Package idempotency keeps Idempotency-Key records (the IETF
// httpapi-idempotency-key draft, with Stripe's semantics) in the database,
// so a retried POST on any instance replays the first response instead of
// repeating its effect.
package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gorm.io/gorm/clause"

	"github.com/vellum-sign/vellum/internal/db"
)

// Errors.
var (
	// ErrInFlight means the first request with the key is still running.
	ErrInFlight = errors.New("a request with this Idempotency-Key is still being processed")
	// ErrMismatch means the key was used for a different request.
	ErrMismatch = errors.New("this Idempotency-Key was used with a different request")
)

// Defaults.
const (
	// TTL is how long a response is kept for replay.
	TTL = 24 * time.Hour
	// LockTTL is how long a running request holds its key; after that a
	// crashed request's key can be taken over.
	LockTTL = 10 * time.Minute
)

const (
	statusRunning = "running"
	statusDone    = "done"
)

// Record is a stored key.
type Record struct {
	APIKeyID        string `gorm:"primaryKey"`
	Key             string `gorm:"primaryKey"`
	Method          string
	Path            string
	RequestHash     string
	Status          string
	ResponseStatus  int
	ResponseHeaders http.Header `gorm:"serializer:json"`
	ResponseBody    []byte
	LockedUntil     time.Time
	CreatedAt       time.Time
	ExpiresAt       time.Time
}

// TableName maps Record to its table.
func (Record) TableName() string { return "idempotency_keys" }

// Response is what is replayed.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Store keeps records.
type Store struct {
	db  *db.DB
	now func() time.Time
}

// NewStore returns the store.
func NewStore(database *db.DB) *Store {
	return &Store{db: database, now: func() time.Time { return time.Now().UTC() }}
}

// Claim reserves key for a new request (method, path) by apiKeyID. It
// returns (nil, nil) when the caller now owns the key and must call Complete
// or Release; the finished record when the key was already used (the caller
// compares request hashes); ErrInFlight while another request holds it; or
// ErrMismatch when the key was used on another method or path.
func (s *Store) Claim(ctx context.Context, apiKeyID, key, method, path string) (*Record, error) {
	now := s.now()
	fresh := &Record{
		APIKeyID: apiKeyID, Key: key, Method: method, Path: path, Status: statusRunning,
		ResponseHeaders: http.Header{}, LockedUntil: now.Add(LockTTL), CreatedAt: now, ExpiresAt: now.Add(TTL),
	}
	var out *Record
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		res := s.db.Conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(fresh)
		if res.Error != nil {
			return fmt.Errorf("claim idempotency key: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			return nil
		}
		var r Record
		q := s.db.Conn(ctx).Where("api_key_id = ? AND key = ?", apiKeyID, key)
		if err := s.db.ForUpdate(q, false).Take(&r).Error; err != nil {
			return fmt.Errorf("read idempotency key: %w", err)
		}
		expired := now.After(r.ExpiresAt)
		abandoned := r.Status == statusRunning && now.After(r.LockedUntil)
		if expired || abandoned {
			return s.db.Conn(ctx).Model(&Record{}).Where("api_key_id = ? AND key = ?", apiKeyID, key).
				Select("*").Updates(fresh).Error
		}
		if r.Method != method || r.Path != path {
			return fmt.Errorf("%w (first used on %s %s)", ErrMismatch, r.Method, r.Path)
		}
		if r.Status == statusRunning {
			return ErrInFlight
		}
		out = &r
		return nil
	})
	return out, err
}

// Complete stores the response of the request that claimed key.
func (s *Store) Complete(ctx context.Context, apiKeyID, key, requestHash string, resp Response) error {
	err := s.db.Conn(ctx).Model(&Record{}).
		Where("api_key_id = ? AND key = ? AND status = ?", apiKeyID, key, statusRunning).
		Updates(map[string]any{
			"status": statusDone, "request_hash": requestHash, "response_status": resp.Status,
			"response_headers": mustJSON(resp.Header), "response_body": resp.Body,
		}).Error
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// Release gives key up without a response (the request failed in a way
// worth retrying), so the next request with it runs afresh.
func (s *Store) Release(ctx context.Context, apiKeyID, key string) error {
	err := s.db.Conn(ctx).Where("api_key_id = ? AND key = ? AND status = ?", apiKeyID, key, statusRunning).
		Delete(&Record{}).Error
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// DeleteExpired removes records past their TTL and returns how many.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	res := s.db.Conn(ctx).Where("expires_at < ?", s.now()).Delete(&Record{})
	return res.RowsAffected, res.Error
}

func mustJSON(h http.Header) string {
	b, err := json.Marshal(h)
	if err != nil {
		return "{}"
	}
	return string(b)
}
