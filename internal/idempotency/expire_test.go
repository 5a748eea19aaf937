package idempotency

import (
	"context"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/testenv"
)

func TestDeleteExpired_RemovesOnlyExpiredRecords(t *testing.T) {
	ctx := context.Background()
	pg, err := testenv.StartPostgres(ctx, "idempotency")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	accts := account.NewService(pg.DB)
	a, err := accts.CreateAccount(ctx, "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := accts.CreateKey(ctx, a.ID, account.Test, "")
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(pg.DB)
	clock := time.Now().UTC()
	s.now = func() time.Time { return clock }
	for _, key := range []string{"old", "new"} {
		if _, err := s.Claim(ctx, k.ID, key, "POST", "/api/v1/documents"); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(TTL / 2)
	}
	// old was claimed at T and new at T+TTL/2; now it is T+TTL+1s: only old
	// has expired.
	clock = clock.Add(time.Second)
	n, err := s.DeleteExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("deleted %d records, want 1 (the expired one)", n)
	}
	var keys []string
	if err := pg.DB.Conn(ctx).Model(&Record{}).Pluck("key", &keys).Error; err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "new" {
		t.Fatalf("remaining keys %v, want [new]", keys)
	}
}
