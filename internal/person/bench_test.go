package person

import (
	"context"
	"testing"
)

// BenchmarkArgon2id_Default is the cost of one password check or PIN entry
// with the production parameters (m=64 MiB, t=3, p=1).
func BenchmarkArgon2id_Default(b *testing.B) {
	h := newHasher(DefaultArgon2)
	salt := make([]byte, 16)
	for b.Loop() {
		if _, err := h.derive(context.Background(), []byte("correct horse battery staple"), salt, DefaultArgon2); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnlock_Default opens an issued certificate's key with its PIN
// (one Argon2id, the KEK and two AES-GCM opens, a row lock) with the
// production Argon2id parameters.
func BenchmarkUnlock_Default(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	svc, err := NewService(env.pg.DB, env.ca, f.keys, Config{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := svc.IssueCertificate(ctx, f.scope, f.person(b, "").ID, IssueInput{PIN: pin})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := svc.Unlock(ctx, f.scope, c.ID, pin); err != nil {
			b.Fatal(err)
		}
	}
}
