package jobs

import (
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

type taskMetrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newTaskMetrics(reg prometheus.Registerer) *taskMetrics {
	m := &taskMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vellum_tasks_total",
			Help: "Task runs by type and outcome (done, retry, failed, skipped).",
		}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vellum_task_duration_seconds",
			Help:    "Task handler run time by type.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"type"}),
	}
	if reg != nil {
		reg.MustRegister(m.total, m.duration)
	}
	return m
}

func (m *taskMetrics) observe(taskType, outcome string, d time.Duration) {
	m.total.WithLabelValues(taskType, outcome).Inc()
	if outcome != "skipped" {
		m.duration.WithLabelValues(taskType).Observe(d.Seconds())
	}
}

// queueCollector reports the tasks waiting in each Asynq queue when
// Prometheus scrapes: the signal to scale workers on (a HorizontalPodAutoscaler
// through prometheus-adapter's external metrics), which CPU alone gives late.
type queueCollector struct {
	inspector *asynq.Inspector
	desc      *prometheus.Desc
}

// RegisterQueueMetrics registers vellum_queue_tasks{queue,state} (state:
// pending, active, scheduled, retry) on reg, read from Redis at each scrape.
func RegisterQueueMetrics(reg prometheus.Registerer, rdb redis.UniversalClient) error {
	return reg.Register(&queueCollector{
		inspector: asynq.NewInspectorFromRedisClient(rdb),
		desc: prometheus.NewDesc("vellum_queue_tasks",
			"Tasks in each Asynq queue by state (pending: waiting for a worker), read from Redis at scrape time.",
			[]string{"queue", "state"}, nil),
	})
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	known, err := c.inspector.Queues()
	if err != nil {
		return // Redis unreachable: no sample rather than a false zero
	}
	for q := range Queues {
		var pending, active, scheduled, retry int
		// A queue that never held a task is unknown to Redis: zero.
		if slices.Contains(known, q) {
			info, err := c.inspector.GetQueueInfo(q)
			if err != nil {
				continue
			}
			pending, active, scheduled, retry = info.Pending, info.Active, info.Scheduled, info.Retry
		}
		for state, n := range map[string]int{"pending": pending, "active": active, "scheduled": scheduled, "retry": retry} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), q, state)
		}
	}
}
