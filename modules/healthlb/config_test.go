package healthlb

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{
		DecayTime:                10 * time.Second,
		UnknownLatency:           DefaultUnknownLatency,
		FailureLatency:           5 * time.Second,
		MaxRetryAfter:            300 * time.Second,
		Window:                   10 * time.Second,
		Consecutive5xx:           5,
		ConsecutiveGatewayErrors: 5,
		BaseEjectionTime:         30 * time.Second,
		MaxEjectionTime:          300 * time.Second,
		MaxEjectionPercent:       10,
		EjectionDecay:            10 * time.Second,
		SlowStartWindow:          20 * time.Second,
		SlowStartMinPercent:      10,
		SlowStartAggression:      1,
		PanicThreshold:           50,
	}
	if got != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if DefaultUnknownLatency < 39*time.Hour || DefaultUnknownLatency > 40*time.Hour {
		t.Errorf("DefaultUnknownLatency = %v, want Finagle's ~39h", DefaultUnknownLatency)
	}
}

func TestConfigKeepsSetValues(t *testing.T) {
	cfg := Config{
		DecayTime:                time.Second,
		FailureLatency:           -1,
		Consecutive5xx:           -1,
		ConsecutiveGatewayErrors: 3,
		BaseEjectionTime:         time.Minute,
		MaxEjectionTime:          time.Second, // below base: base is the cap
		SlowStartWindow:          -1,
		PanicThreshold:           -1,
	}.withDefaults()
	if cfg.DecayTime != time.Second || cfg.FailureLatency != -1 || cfg.Consecutive5xx != -1 ||
		cfg.ConsecutiveGatewayErrors != 3 || cfg.SlowStartWindow != -1 || cfg.PanicThreshold != -1 {
		t.Errorf("set values were overwritten: %+v", cfg)
	}
	if cfg.MaxEjectionTime != time.Minute {
		t.Errorf("MaxEjectionTime = %v, want the base ejection time", cfg.MaxEjectionTime)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{FailureLatency: -1, MaxRetryAfter: -1, SlowStartWindow: -1, PanicThreshold: -1, Consecutive5xx: -1}, ""},
		{Config{MaxEjectionPercent: 100, SlowStartMinPercent: 100, PanicThreshold: 100}, ""},
		{Config{DecayTime: -1}, "decay_time"},
		{Config{UnknownLatency: -1}, "unknown_latency"},
		{Config{Window: -time.Second}, "window"},
		{Config{BaseEjectionTime: -1}, "base_ejection_time"},
		{Config{MaxEjectionTime: -1}, "max_ejection_time"},
		{Config{EjectionDecay: -1}, "ejection_decay"},
		{Config{MaxEjectionPercent: 101}, "max_ejection_percent"},
		{Config{MaxEjectionPercent: -1}, "max_ejection_percent"},
		{Config{SlowStartMinPercent: 150}, "slow_start_min_percent"},
		{Config{SlowStartAggression: -2}, "slow_start_aggression"},
		{Config{PanicThreshold: 120}, "panic_threshold"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%+v) = %v, want an error about %s", tc.cfg, err, tc.want)
		}
	}
	if _, err := NewScoreboard(Config{DecayTime: -1}, nil, nil); err == nil {
		t.Error("NewScoreboard accepted an invalid config")
	}
}
