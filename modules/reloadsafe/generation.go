package reloadsafe

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// generation is one config's wrapper of one server: the listeners it
// wrapped and their connections, until the last of them is closed.
type generation struct {
	id           uint64
	loaded       time.Time
	drainTimeout time.Duration

	mu        sync.Mutex
	listeners []*listener
	open      int // listeners not finished: serving, or closed with connections
}

var (
	generationSeq atomic.Uint64
	generations   sync.Map // id -> *generation, from the first listener to the last finished
)

func newGeneration(drainTimeout time.Duration) *generation {
	return &generation{id: generationSeq.Add(1), loaded: time.Now(), drainTimeout: drainTimeout}
}

func (g *generation) addListener(l *listener) {
	g.mu.Lock()
	g.listeners = append(g.listeners, l)
	g.open++
	g.mu.Unlock()
	generations.Store(g.id, g)
}

// listenerFinished is called once per listener, when it is closed and has
// no connection left.
func (g *generation) listenerFinished() {
	g.mu.Lock()
	g.open--
	done := g.open == 0
	g.mu.Unlock()
	if done {
		generations.Delete(g.id)
	}
}

// generationStatus is one generation in the admin route's answer.
type generationStatus struct {
	// Generation numbers wrapper instances in the order they were loaded.
	Generation uint64 `json:"generation"`
	// Loaded is when its config was loaded.
	Loaded time.Time `json:"loaded"`
	// State is "serving", or "draining" once a newer config replaced it.
	State string `json:"state"`
	// Connections counts its open connections, on all its listeners.
	Connections int              `json:"connections"`
	Listeners   []listenerStatus `json:"listeners"`
}

// listenerStatus is one listener of a generation.
type listenerStatus struct {
	Address     string `json:"address"`
	Connections int    `json:"connections"`
}

func (g *generation) status() generationStatus {
	g.mu.Lock()
	ls := slices.Clone(g.listeners)
	g.mu.Unlock()
	st := generationStatus{Generation: g.id, Loaded: g.loaded, State: "draining", Listeners: []listenerStatus{}}
	for _, l := range ls {
		if !l.draining() {
			st.State = "serving"
		}
		s := l.status()
		st.Connections += s.Connections
		st.Listeners = append(st.Listeners, s)
	}
	return st
}

// allGenerations returns the status of every generation with a listener
// serving or a connection open, oldest first.
func allGenerations() []generationStatus {
	out := []generationStatus{}
	generations.Range(func(_, v any) bool {
		out = append(out, v.(*generation).status())
		return true
	})
	slices.SortFunc(out, func(a, b generationStatus) int { return cmp.Compare(a.Generation, b.Generation) })
	return out
}
