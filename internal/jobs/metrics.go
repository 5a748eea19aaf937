package jobs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
