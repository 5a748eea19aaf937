package envelope_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/envelope"
)

// errCrash stands for the process dying: nothing after it runs, not even
// the cleanup an error return would do.
var errCrash = errors.New("crash")

// crashInCommitWindow signs as the recipient and runs the signing step
// itself with a commit that never happens, so its revisions are written
// but never made current. It returns the keys left behind; none when the
// worker applied the signature first (the crash came too late).
func crashInCommitWindow(t *testing.T, c *client) (string, []string) {
	t.Helper()
	doc := c.upload("crash.pdf", samplePDF("Crash", 1))
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{"subject": "Crash", "documentIds": []string{doc},
		"recipients": []map[string]any{{"email": "crash@example.com", "name": "Cy Crash"}}})
	id := r.json(t)["id"].(string)
	c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil)
	env := c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil).json(t)
	rid := env["recipients"].([]any)[0].(map[string]any)["id"].(string)
	tok := c.tokenOf(id, "crash@example.com")
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{"consent": true,
		"signature": map[string]any{"type": "typed", "text": "Cy Crash"}}); r.status != http.StatusOK {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	func() {
		defer func() {
			if p := recover(); p != nil && p != errCrash {
				panic(p)
			}
		}()
		_ = h.svc.ApplySignature(context.Background(), id, rid, func(context.Context, func(context.Context) error) error {
			panic(errCrash)
		})
	}()
	// Once the worker has completed the envelope, every pending row left
	// is the crashed run's.
	c.waitStatus(id, "COMPLETED")
	var keys []string
	if err := h.pg.DB.Conn(context.Background()).Table("pending_blobs").Where("envelope_id = ?", id).Pluck("blob_key", &keys).Error; err != nil {
		t.Fatal(err)
	}
	return id, keys
}

// A crash between writing a new revision and committing it leaves a blob
// nothing points at; the worker's sweep deletes it once the grace period
// has passed, and not before, while the envelope completes with its own
// revision untouched.
func TestSweep_DeletesRevisionsACrashLeftUncommitted(t *testing.T) {
	c := newClient(t)
	var id string
	var orphans []string
	for attempt := 0; attempt < 5 && len(orphans) == 0; attempt++ {
		id, orphans = crashInCommitWindow(t, c)
	}
	if len(orphans) == 0 {
		t.Fatal("the worker applied the signature before the crash every time: the crash never hit the window")
	}
	ctx := context.Background()
	for _, k := range orphans {
		if _, err := h.blobs.Stat(ctx, k); err != nil {
			t.Fatalf("orphan %s not written: %v", k, err)
		}
	}

	// Within the grace period nothing is deleted: it may still commit.
	if _, err := h.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range orphans {
		if _, err := h.blobs.Stat(ctx, k); err != nil {
			t.Fatalf("orphan %s deleted within the grace period: %v", k, err)
		}
	}

	defer h.clock.Shift(0)
	h.clock.Shift(envelope.OrphanGrace + time.Minute)
	res, err := h.svc.Sweep(ctx)
	h.clock.Shift(0)
	if err != nil {
		t.Fatal(err)
	}
	if res.OrphansDeleted < len(orphans) {
		t.Errorf("sweep deleted %d orphans, want at least %d", res.OrphansDeleted, len(orphans))
	}
	for _, k := range orphans {
		if _, err := h.blobs.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("orphan %s still there after the sweep: %v", k, err)
		}
	}
	var left int64
	h.pg.DB.Conn(ctx).Table("pending_blobs").Where("envelope_id = ?", id).Count(&left)
	if left != 0 {
		t.Errorf("%d pending rows left for %s", left, id)
	}
	// What the envelope made current is untouched.
	if r := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil); r.status != http.StatusOK || len(r.body) == 0 {
		t.Fatalf("signed document after the sweep: %d", r.status)
	}
	if r := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/audit-trail", nil); r.status != http.StatusOK {
		t.Fatalf("audit trail after the sweep: %d", r.status)
	}
}
