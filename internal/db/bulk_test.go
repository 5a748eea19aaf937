package db_test

import (
	"context"
	"slices"
	"testing"

	"github.com/vellum-sign/vellum/internal/db"
)

func TestUpdateEach_SetsEachRowItsOwnValuesWhereTheConditionHolds(t *testing.T) {
	dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.Conn(ctx).Exec(`CREATE TABLE items (id TEXT PRIMARY KEY, status TEXT NOT NULL, n INTEGER, note TEXT NOT NULL DEFAULT '', v INTEGER NOT NULL DEFAULT 0)`).Error; err != nil {
			t.Fatal(err)
		}
		if err := d.Conn(ctx).Exec(`INSERT INTO items (id, status) VALUES ('a', 'open'), ('b', 'open'), ('c', 'closed')`).Error; err != nil {
			t.Fatal(err)
		}
		var keys []string
		err := d.WithTx(ctx, func(ctx context.Context) error {
			var err error
			keys, err = d.UpdateEach(ctx, "items", "id", []db.Column{{Name: "status", Type: "text"}, {Name: "n", Type: "int"}},
				[][]any{{"a", "done", 1}, {"b", "failed", nil}, {"c", "done", 3}, {"x", "done", 4}},
				map[string]any{"v": 7}, "status = ?", "open")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"a", "b"}) {
			t.Fatalf("updated %v, want [a b]: c is closed and x does not exist", keys)
		}
		var rows []struct {
			ID, Status string
			N          *int
			V          int
		}
		if err := d.Conn(ctx).Raw("SELECT id, status, n, v FROM items ORDER BY id").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range rows {
			n := "null"
			if r.N != nil {
				n = string(rune('0' + *r.N))
			}
			got[r.ID] = r.Status + "/" + n + "/" + string(rune('0'+r.V))
		}
		want := map[string]string{"a": "done/1/7", "b": "failed/null/7", "c": "closed/null/0"}
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s: %s, want %s", id, got[id], w)
			}
		}
	})
}

func TestTxID_OnePerTransaction(t *testing.T) {
	dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var first, again, other string
		_ = d.WithTx(ctx, func(ctx context.Context) error {
			first = db.TxID(ctx)
			return d.WithTx(ctx, func(ctx context.Context) error { again = db.TxID(ctx); return nil })
		})
		_ = d.WithTx(ctx, func(ctx context.Context) error { other = db.TxID(ctx); return nil })
		if first == "" || first != again || first == other {
			t.Fatalf("ids %q, %q (nested), %q (next transaction): want the first two equal, the third different", first, again, other)
		}
	})
}
