package jobs_test

import (
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/jobs"
)

func TestQueueMetrics_CountPendingTasksPerQueue(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := jobs.RegisterQueueMetrics(reg, rdb.Client); err != nil {
		t.Fatal(err)
	}
	samples := 0
	pending := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		samples = 0
		for _, mf := range mfs {
			samples += len(mf.GetMetric())
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["queue"] == jobs.QueueLow && labels["state"] == "pending" {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatal("no vellum_queue_tasks{queue=low,state=pending}")
		return 0
	}
	before := pending()
	if samples != 4*len(jobs.Queues) {
		t.Fatalf("%d samples, want 4 states × %d queues", samples, len(jobs.Queues))
	}
	c := asynq.NewClientFromRedisClient(rdb.Client)
	for i := 0; i < 3; i++ {
		if _, err := c.Enqueue(asynq.NewTask("metrics:test", nil), asynq.Queue(jobs.QueueLow)); err != nil {
			t.Fatal(err)
		}
	}
	if got := pending(); got != before+3 {
		t.Fatalf("pending in %s: %v, want %v", jobs.QueueLow, got, before+3)
	}
}
