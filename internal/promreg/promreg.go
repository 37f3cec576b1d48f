// Package promreg registers a package's Prometheus collectors into the
// metrics registry of each config load. Collectors live at package level,
// so counters survive reloads; Caddy makes a new registry per load, shared
// by every module of that config, so an earlier registration of the same
// collector is fine.
package promreg

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Register registers collectors into ctx's metrics registry.
func Register(ctx caddy.Context, collectors ...prometheus.Collector) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// Sample is the value of one series of a collector, by its labels.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Samples reads the current value of every series of c (counters and
// gauges), for state snapshots that show what the metrics count without
// counting it twice.
func Samples(c prometheus.Collector) []Sample {
	ch := make(chan prometheus.Metric)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var out []Sample
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) != nil {
			continue
		}
		s := Sample{Labels: make(map[string]string, len(d.GetLabel()))}
		for _, l := range d.GetLabel() {
			s.Labels[l.GetName()] = l.GetValue()
		}
		switch {
		case d.Counter != nil:
			s.Value = d.Counter.GetValue()
		case d.Gauge != nil:
			s.Value = d.Gauge.GetValue()
		default:
			continue
		}
		out = append(out, s)
	}
	return out
}
