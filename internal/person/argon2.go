package person

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are Argon2id's cost parameters (RFC 9106).
type Argon2Params struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2 is RFC 9106's second recommended option (t=3, 64 MiB)
// with one lane: on a small server parallel requests use the other cores.
var DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 1}

func (p Argon2Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Time, p.Threads)
}

// parseArgon2Params reads String's form.
func parseArgon2Params(s string) (Argon2Params, error) {
	var p Argon2Params
	if _, err := fmt.Sscanf(s, "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, fmt.Errorf("argon2 parameters %q: %w", s, err)
	}
	// Parameters come from our own database; bounds keep a corrupted row
	// from asking for terabytes.
	if p.Time < 1 || p.Time > 100 || p.MemoryKiB < 8 || p.MemoryKiB > 4<<20 || p.Threads < 1 || p.Threads > 64 {
		return p, fmt.Errorf("argon2 parameters %q out of range", s)
	}
	return p, nil
}

// hasher runs Argon2id. Each computation holds MemoryKiB of memory, so at
// most two per CPU run at once; the rest wait (or give up when their
// request does).
type hasher struct {
	params Argon2Params
	slots  chan struct{}
	// computations counts Argon2id runs, so tests can show that every
	// login path does the same work.
	computations atomic.Int64
}

func newHasher(p Argon2Params) *hasher {
	return &hasher{params: p, slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
}

// derive returns a 32-byte Argon2id key of secret and salt.
func (h *hasher) derive(ctx context.Context, secret, salt []byte, p Argon2Params) ([]byte, error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.slots }()
	h.computations.Add(1)
	return argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, 32), nil
}

func newSalt() ([]byte, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	return salt, nil
}

var b64 = base64.RawStdEncoding

// hash returns password's Argon2id hash in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	salt, err := newSalt()
	if err != nil {
		return "", err
	}
	key, err := h.derive(ctx, []byte(password), salt, h.params)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$%s$%s$%s", argon2.Version, h.params, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("malformed password hash")

// verify reports whether password matches a hash made by hash.
func (h *hasher) verify(ctx context.Context, encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errBadHash
	}
	p, err := parseArgon2Params(parts[3])
	if err != nil {
		return false, errBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) != 32 {
		return false, errBadHash
	}
	got, err := h.derive(ctx, []byte(password), salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
