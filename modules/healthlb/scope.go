package healthlb

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// DefaultScope is the scope of a transport that names none: every
// reverse_proxy that leaves it unset shares one scoreboard.
const DefaultScope = "default"

// sweepInterval is how often a scope brings ejections up to date, so that
// rejoins are logged when they happen rather than at the next request.
const sweepInterval = time.Second

// scopes holds one scoreboard per scope name. It lives at package level, so
// an upstream that stays configured keeps its entry (and breaker) across
// config reloads: the new config acquires the scope before the old one
// releases it.
var scopes = caddy.NewUsagePool()

// scope is a pooled scoreboard with the goroutine that sweeps it. The
// goroutine belongs to the scope and stops in Destruct, never with a module
// context (those are cancelled at every reload).
type scope struct {
	name   string
	sb     *Scoreboard
	logger atomic.Pointer[zap.Logger]
	stop   chan struct{}
	done   chan struct{}
}

// acquireScope returns the scope of that name, creating it if no module
// holds it, and counts one more user; releaseScope must follow in Cleanup.
// The logger of the latest config to serve (see ObservedTransport.commit)
// reports the scope's transitions.
func acquireScope(name string, logger *zap.Logger) (*scope, error) {
	v, _, err := scopes.LoadOrNew(name, func() (caddy.Destructor, error) {
		sb, err := NewScoreboard(Config{}, nil, nil)
		if err != nil {
			return nil, err
		}
		s := &scope{name: name, sb: sb, stop: make(chan struct{}), done: make(chan struct{})}
		s.logger.Store(logger)
		sb.SetEventHandler(s.logEvent)
		sb.SetDropHandler(func(addr string) { forgetUpstreamSeries(name, addr) })
		go s.sweep()
		return s, nil
	})
	if err != nil {
		return nil, fmt.Errorf("scope %q: %v", name, err)
	}
	return v.(*scope), nil
}

func releaseScope(name string) { _, _ = scopes.Delete(name) }

func (s *scope) sweep() {
	defer close(s.done)
	defer func() {
		if err := recover(); err != nil {
			s.logger.Load().Error("scoreboard sweep panicked", zap.String("scope", s.name), zap.Any("error", err))
		}
	}()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sb.Sweep()
		}
	}
}

// logEvent writes one line per ejection transition and counts it.
func (s *scope) logEvent(ev Event) {
	s.count(ejectionEvents, ev.Upstream, ev.Kind.String())
	fields := []zap.Field{
		zap.String("scope", s.name),
		zap.String("upstream", ev.Upstream),
		zap.Int("ejections", ev.Ejections),
	}
	switch ev.Kind {
	case EventEjected:
		fields = append(fields, zap.String("reason", ev.Reason.String()), zap.Time("until", ev.Until))
	case EventEjectionCapped:
		fields = append(fields, zap.String("reason", ev.Reason.String()))
	}
	s.logger.Load().Warn("upstream "+ev.Kind.String(), fields...)
}

// logBreaker writes one line per breaker transition and counts it.
func (s *scope) logBreaker(upstream string, from, to BreakerState) {
	s.count(breakerTransitions, upstream, to.String())
	s.logger.Load().Warn("upstream circuit breaker "+to.String(),
		zap.String("scope", s.name),
		zap.String("upstream", upstream),
		zap.String("from", from.String()))
}

// Destruct stops the sweeper; the scope's usage pool calls it when the last
// module releases the scope.
func (s *scope) Destruct() error {
	close(s.stop)
	<-s.done
	return nil
}

// Interface guard
var _ caddy.Destructor = (*scope)(nil)
