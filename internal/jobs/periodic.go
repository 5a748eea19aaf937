package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Periodic is a background loop: Run at once, then every Interval (or
// sooner when Wake fires) until the context ends. Every background loop of
// a process is one of these, run by RunPeriodic.
type Periodic struct {
	// Name says what it does, for the log ("relay outbox", "prune webhook logs").
	Name     string
	Interval time.Duration
	// Wake, when not nil, runs it before the interval is up.
	Wake <-chan struct{}
	Run  func(ctx context.Context) error
}

// RunPeriodic runs each loop in its own goroutine and returns once ctx has
// ended and every loop has stopped. A failing loop logs one warning when it
// starts failing and one line when it recovers, not one per round.
func RunPeriodic(ctx context.Context, log *slog.Logger, loops ...Periodic) {
	var wg sync.WaitGroup
	for _, p := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.loop(ctx, log)
		}()
	}
	wg.Wait()
}

func (p Periodic) loop(ctx context.Context, log *slog.Logger) {
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()
	failing := false
	for {
		err := p.Run(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			log.Warn(p.Name+" failing; retrying every "+p.Interval.String(), "err", err)
			failing = true
		case err == nil && failing:
			log.Info(p.Name + " recovered")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-p.Wake:
		}
	}
}
