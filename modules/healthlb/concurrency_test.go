package healthlb

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentUse hammers one upstream from many goroutines; run it with
// -race. The clock does not move, so the window must hold every record.
func TestConcurrentUse(t *testing.T) {
	sb, _ := newTestScoreboard(t, Config{})
	sb.rand = runtimeRand{} // the seeded source is not goroutine-safe
	var ejected atomic.Int64
	sb.SetEventHandler(func(ev Event) {
		if ev.Kind == EventEjected {
			ejected.Add(1)
		}
		sb.Get(ev.Upstream).Snapshot() // handlers may read the scoreboard
	})
	u := acquire(t, sb, "a:80")
	other := acquire(t, sb, "b:80")
	pool := Pool{Upstreams: []*Upstream{u, other}}
	b := new(fakeBreaker)
	u.SetBreaker(b)

	const workers, perWorker = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				if pick := sb.PickP2C(pool); pick >= 0 {
					pool.Upstreams[pick].StartRequest()
					pool.Upstreams[pick].FinishRequest()
				}
				u.StartRequest()
				u.Record(Result{
					Outcome:    Outcome((w + i) % 4),
					Latency:    time.Duration(i) * time.Microsecond,
					RetryAfter: time.Duration(i%3) * time.Second,
				})
				u.FinishRequest()
			}
		})
	}
	wg.Go(func() {
		for i := range perWorker {
			_ = u.Snapshot()
			_ = sb.Snapshots()
			sb.Sweep()
			u.BeginSlowStart()
			b.set(BreakerState(i % 4))
			sb.SetPoolSize(i % 3)
			_ = sb.PickLeastRequests(pool)
			if err := sb.SetConfig(Config{DecayTime: time.Duration(i%5+1) * time.Second}); err != nil {
				t.Error(err)
			}
			addr := fmt.Sprintf("tmp%d:80", i%3)
			sb.Acquire(addr)
			sb.Release(addr)
		}
	})
	wg.Wait()

	s := u.Snapshot()
	if s.InFlight != 0 {
		t.Errorf("in flight %d after all requests finished", s.InFlight)
	}
	if got := s.Window.Total(); got != workers*perWorker {
		t.Errorf("window total %d, want %d", got, workers*perWorker)
	}
}

// TestConcurrentEjectionCap checks that racing ejections respect the cap.
func TestConcurrentEjectionCap(t *testing.T) {
	sb, _ := newTestScoreboard(t, Config{})
	const n = 20 // 10%: two may be ejected
	ups := make([]*Upstream, n)
	for i := range ups {
		ups[i] = acquire(t, sb, fmt.Sprintf("u%d:80", i))
	}
	var wg sync.WaitGroup
	for _, u := range ups {
		wg.Go(func() { recordN(u, failGW, 5) })
	}
	wg.Wait()
	ejected := 0
	for _, u := range ups {
		if u.Ejected() {
			ejected++
		}
	}
	if ejected != 2 {
		t.Errorf("%d ejected, want 2", ejected)
	}
}
