package healthlb

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkRecord(b *testing.B) {
	sb, err := NewScoreboard(Config{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	u := sb.Acquire("a:80")
	defer sb.Release("a:80")
	r := Result{Outcome: OutcomeSuccess, Latency: 10 * time.Millisecond}

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u.StartRequest()
			u.Record(r)
			u.FinishRequest()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				u.StartRequest()
				u.Record(r)
				u.FinishRequest()
			}
		})
	})
}

func BenchmarkSelectP2C(b *testing.B) {
	for _, n := range []int{4, 64} {
		sb, err := NewScoreboard(Config{}, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		ups := make([]*Upstream, n)
		for i := range ups {
			addr := fmt.Sprintf("u%d:80", i)
			ups[i] = sb.Acquire(addr)
			defer sb.Release(addr)
			ups[i].Record(Result{Latency: time.Duration(i+1) * time.Millisecond})
		}
		// Like Caddy's Upstream.Available: a cheap check per candidate.
		usable := func(i int) bool { return ups[i] != nil }
		pool := Pool{Upstreams: ups, Usable: usable}

		b.Run(fmt.Sprintf("peak_ewma/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sb.PickP2C(pool)
			}
		})
		b.Run(fmt.Sprintf("peak_ewma_parallel/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					sb.PickP2C(pool)
				}
			})
		})
		b.Run(fmt.Sprintf("least_requests/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sb.PickLeastRequests(pool)
			}
		})
	}
}
