package ratelimit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// shardCount spreads keys over independently locked shards, so requests
// for different keys seldom wait on each other.
const shardCount = 64

// store holds one zone's keys in memory: each key's GCRA state and its
// requests in flight, at most maxKeys of them. When a shard is full, the
// least recently used key without requests in flight makes room. A key
// whose TAT has passed is the same as no key at all, so evicting it loses
// nothing; evictions of keys that still held back traffic are counted on
// their own.
type store struct {
	seed        maphash.Seed
	perShard    int
	shards      [shardCount]shard
	evictions   atomic.Int64
	evictedLive atomic.Int64
}

type shard struct {
	mu   sync.Mutex
	keys map[string]*entry
	lru  entry // sentinel: lru.next is the most recently used
}

type entry struct {
	key        string
	tat        int64
	inFlight   int64
	prev, next *entry
}

func newStore(maxKeys int) *store {
	s := &store{seed: maphash.MakeSeed(), perShard: max(maxKeys/shardCount, 1)}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.keys = make(map[string]*entry)
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
	}
	return s
}

func (s *store) shard(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)%shardCount]
}

// limits are what a zone checks for one key.
type limits struct {
	rate        *gcra // nil: no rate limit
	maxInFlight int64 // 0: no concurrency limit
}

// take decides a request for key now. The clock is read under the
// shard's lock, so the decisions on one key see time in the order they
// are made: a request that read the clock earlier but got the lock later
// cannot be refused for looking early. When the rate limit refuses it,
// the decision says so; when the in-flight limit does, inFlightFull is
// true. An admitted request under a concurrency limit holds a slot until
// release(key, e) with the returned entry.
func (s *store) take(key string, l limits) (d decision, inFlightFull bool, e *entry) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := monotonic()
	e = sh.keys[key]
	if e == nil {
		e = s.insert(sh, key, now)
	} else {
		sh.unlink(e)
		sh.pushFront(e)
	}
	if l.rate != nil && !l.rate.allows(e.tat, now) {
		_, d = l.rate.take(e.tat, now)
		return d, false, nil
	}
	if l.maxInFlight > 0 && e.inFlight >= l.maxInFlight {
		return decision{}, true, nil
	}
	d.allowed = true
	if l.rate != nil {
		e.tat, d = l.rate.take(e.tat, now)
	}
	if l.maxInFlight > 0 {
		e.inFlight++
		return d, false, e
	}
	return d, false, nil
}

// release frees the in-flight slot a request took.
func (s *store) release(e *entry) {
	sh := s.shard(e.key)
	sh.mu.Lock()
	e.inFlight--
	sh.mu.Unlock()
}

// insert adds key, evicting the least recently used idle key of a full
// shard. If every candidate has requests in flight the shard goes over
// its share for now: it is bounded by the requests in flight.
func (s *store) insert(sh *shard, key string, now int64) *entry {
	if len(sh.keys) >= s.perShard {
		for victim, tries := sh.lru.prev, 0; victim != &sh.lru && tries < 8; victim, tries = victim.prev, tries+1 {
			if victim.inFlight > 0 {
				continue
			}
			sh.unlink(victim)
			delete(sh.keys, victim.key)
			s.evictions.Add(1)
			if victim.tat > now {
				s.evictedLive.Add(1)
			}
			break
		}
	}
	e := &entry{key: key}
	sh.keys[key] = e
	sh.pushFront(e)
	return e
}

func (sh *shard) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (sh *shard) pushFront(e *entry) {
	e.prev, e.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}

// size counts the keys held.
func (s *store) size() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.keys)
		sh.mu.Unlock()
	}
	return n
}
