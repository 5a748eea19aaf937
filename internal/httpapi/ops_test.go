package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/vellum-sign/vellum/internal/httpapi"
)

// TestOpsQueues_ShowsQueuesAfterFlushAll flushes this test's own Redis and
// enqueues again through the same client, as the outbox re-relays: the
// dashboard must still list the queue and its task.
func TestOpsQueues_ShowsQueuesAfterFlushAll(t *testing.T) {
	rdb, _ := startPrivateRedis(t)
	ctx := context.Background()
	qc := asynq.NewClientFromRedisClient(rdb)
	enqueue := func(id string) {
		if _, err := qc.Enqueue(asynq.NewTask("test:noop", nil), asynq.Queue("default"), asynq.TaskID(id)); err != nil {
			t.Fatal(err)
		}
	}
	enqueue("before")
	if err := rdb.FlushAll(ctx).Err(); err != nil { // the private server only
		t.Fatal(err)
	}
	enqueue("after")
	const ops = "ops-token-0123456789abcdef"
	dash := asynqmon.New(asynqmon.Options{RootPath: "/ops/queues", RedisConnOpt: asynq.RedisClientOpt{Addr: rdb.Options().Addr}})
	t.Cleanup(func() { _ = dash.Close() })
	s, _ := loggedServer(t, httpapi.Deps{OpsToken: ops, Queues: dash, Redis: rdb})
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/ops/queues/api/queues", nil)
	req.Header.Set("Authorization", "Bearer "+ops)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Queues []struct {
			Queue string `json:"queue"`
			Size  int    `json:"size"`
		} `json:"queues"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%d: %v", resp.StatusCode, err)
	}
	found := false
	for _, q := range out.Queues {
		if q.Queue == "default" && q.Size == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("dashboard queues after FLUSHALL: %+v, want default with 1 task", out.Queues)
	}
}
