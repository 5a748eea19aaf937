package audit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	if pg, err = testenv.StartPostgres(context.Background(), "audit"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

// envelope inserts the account and envelope rows events belong to.
func envelope(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	c := pg.DB.Conn(ctx)
	if err := c.Exec("INSERT INTO accounts (id, name, created_at) VALUES (?, 'Acme', ?) ON CONFLICT DO NOTHING", "acc_audit", now).Error; err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(`INSERT INTO envelopes (id, account_id, environment, status, subject, signing_order, created_at, updated_at)
		VALUES (?, 'acc_audit', 'test', 'SENT', 'Contract', 'PARALLEL', ?, ?)`, id, now, now).Error; err != nil {
		t.Fatal(err)
	}
}

// logged appends a typical life of an envelope and returns its chain.
func logged(t *testing.T, id string) *audit.Chain {
	t.Helper()
	envelope(t, id)
	ctx := context.Background()
	l := audit.NewLog(pg.DB)
	at := time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.UTC)
	for i, typ := range []string{"envelope.created", "envelope.sent", "recipient.viewed", "recipient.signed", "envelope.completed"} {
		_, err := l.Append(ctx, audit.Event{
			EnvelopeID: id, Type: typ, At: at.Add(time.Duration(i) * time.Minute), Actor: "api:key_1",
			RecipientID: "rcp_1", IP: "192.0.2.7", UserAgent: "Mozilla/5.0",
			DocumentHashes: []audit.DocumentHash{{DocumentID: "doc_1", SHA256: fmt.Sprintf("%064d", i)}},
			Details:        map[string]string{"consentTextSha256": "ab"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := l.Chain(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChain_VerifiesFromTheEnvelopesGenesisToItsHead(t *testing.T) {
	c := logged(t, "env_ok")
	if c.Broken != nil {
		t.Fatal(c.Broken)
	}
	if len(c.Events) != 5 || c.Head == nil || c.Head.Seq != 5 || c.Head.Hash != c.Events[4].Hash || c.Head.Version != audit.V2 {
		t.Fatalf("head %+v after %d events", c.Head, len(c.Events))
	}
	if c.Events[0].PrevHash != audit.Genesis("env_ok") || c.Events[0].PrevHash == audit.GenesisHash {
		t.Errorf("first prev_hash %s does not commit to the envelope id", c.Events[0].PrevHash)
	}
}

// Every edit of any stored field, any removal and any reordering breaks
// the chain.
func TestChain_AnyEditedRemovedOrMovedEventBreaksIt(t *testing.T) {
	c := logged(t, "env_tamper")
	edits := map[string]func(e *audit.Event){
		"type":          func(e *audit.Event) { e.Type = "recipient.declined" },
		"time":          func(e *audit.Event) { e.At = e.At.Add(time.Microsecond) },
		"actor":         func(e *audit.Event) { e.Actor = "api:key_2" },
		"recipient":     func(e *audit.Event) { e.RecipientID = "rcp_2" },
		"ip":            func(e *audit.Event) { e.IP = "198.51.100.1" },
		"user agent":    func(e *audit.Event) { e.UserAgent = "curl/8" },
		"document hash": func(e *audit.Event) { e.DocumentHashes[0].SHA256 = "ff" },
		"added document": func(e *audit.Event) {
			e.DocumentHashes = append(e.DocumentHashes, audit.DocumentHash{DocumentID: "doc_2"})
		},
		"detail":     func(e *audit.Event) { e.Details["consentTextSha256"] = "cd" },
		"new detail": func(e *audit.Event) { e.Details["reason"] = "x" },
		"envelope":   func(e *audit.Event) { e.EnvelopeID = "env_other" },
		"seq":        func(e *audit.Event) { e.Seq++ },
		"prev hash":  func(e *audit.Event) { e.PrevHash = audit.GenesisHash },
		"hash":       func(e *audit.Event) { e.Hash = e.PrevHash },
	}
	for name, edit := range edits {
		for i := range c.Events {
			events := clone(c.Events)
			edit(&events[i])
			if err := audit.Verify("env_tamper", events, c.Head); !errors.Is(err, audit.ErrBrokenChain) {
				t.Errorf("%s of event %d: Verify = %v", name, i+1, err)
			}
		}
	}
	for i := range c.Events {
		events := append(clone(c.Events[:i]), clone(c.Events[i+1:])...)
		if err := audit.Verify("env_tamper", events, c.Head); !errors.Is(err, audit.ErrBrokenChain) {
			t.Errorf("event %d removed: Verify = %v", i+1, err)
		}
	}
	swapped := clone(c.Events)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	if err := audit.Verify("env_tamper", swapped, c.Head); !errors.Is(err, audit.ErrBrokenChain) {
		t.Errorf("reordered: Verify = %v", err)
	}
	// The whole chain, unchanged, does not verify as another envelope's.
	if err := audit.Verify("env_other", c.Events, c.Head); !errors.Is(err, audit.ErrBrokenChain) {
		t.Errorf("moved to another envelope: Verify = %v", err)
	}
	if err := audit.Verify("env_tamper", nil, c.Head); !errors.Is(err, audit.ErrBrokenChain) {
		t.Errorf("all events removed: Verify = %v", err)
	}
}

// Removing the newest event in the database itself is caught by the head.
func TestChain_DeletingTheLastStoredEventIsDetected(t *testing.T) {
	logged(t, "env_trunc")
	ctx := context.Background()
	if err := pg.DB.Conn(ctx).Exec("DELETE FROM envelope_events WHERE envelope_id = 'env_trunc' AND seq = 5").Error; err != nil {
		t.Fatal(err)
	}
	c, err := audit.NewLog(pg.DB).Chain(ctx, "env_trunc")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Broken, audit.ErrBrokenChain) {
		t.Fatalf("chain without its last event verifies: %v", c.Broken)
	}
	if err := pg.DB.Conn(ctx).Exec("UPDATE envelope_events SET ip = '203.0.113.9' WHERE envelope_id = 'env_trunc' AND seq = 2").Error; err != nil {
		t.Fatal(err)
	}
	c, _ = audit.NewLog(pg.DB).Chain(ctx, "env_trunc")
	if c.Broken == nil {
		t.Fatal("edited row verifies")
	}
}

// A chain written before chains covered the envelope id (version 1) still
// verifies, and is not mistaken for a version 2 chain.
func TestChain_VersionOneChainsStillVerify(t *testing.T) {
	c := logged(t, "env_v1")
	v2 := *c.Head
	v1 := clone(c.Events)
	prev := audit.GenesisHash
	for i := range v1 {
		v1[i].PrevHash = prev
		v1[i].Hash = audit.HashOf(&v1[i], audit.V1)
		prev = v1[i].Hash
	}
	head := audit.Head{EnvelopeID: "env_v1", Seq: len(v1), Hash: prev, Version: audit.V1}
	if err := audit.Verify("env_v1", v1, &head); err != nil {
		t.Fatalf("version 1 chain: %v", err)
	}
	v1[2].IP = "203.0.113.9"
	if err := audit.Verify("env_v1", v1, &head); !errors.Is(err, audit.ErrBrokenChain) {
		t.Errorf("edited version 1 chain verifies: %v", err)
	}
	v2.Version = audit.V1
	if err := audit.Verify("env_v1", c.Events, &v2); !errors.Is(err, audit.ErrBrokenChain) {
		t.Errorf("a version 2 chain passed as version 1: %v", err)
	}
}

func clone(es []audit.Event) []audit.Event {
	out := make([]audit.Event, len(es))
	for i, e := range es {
		e.DocumentHashes = append([]audit.DocumentHash(nil), e.DocumentHashes...)
		d := map[string]string{}
		for k, v := range e.Details {
			d[k] = v
		}
		e.Details = d
		out[i] = e
	}
	return out
}
