package authn

import (
	"hash/maphash"
	"sync"
	"time"
)

// tokenCache remembers tokens that passed every check, so that a token
// seen again costs a map lookup instead of a signature check. It is
// bounded: each shard holds at most a share of the capacity, and a full
// shard first drops expired entries, then arbitrary ones.
type tokenCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 32

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*verified
}

// verified is a token that passed every check, with what it proved.
type verified struct {
	id *identity
	// notBefore and until bound, in Unix nanoseconds, when the token's
	// verdict holds: nbf - leeway and exp + leeway (or the cache's
	// longest hold for a token without exp).
	notBefore, until int64
	// set and generation name the remote JWKS generation whose key
	// verified the token; a change of that set's keys ends the entry.
	set        *remoteSet
	generation uint64
}

// newTokenCache returns a cache for up to size tokens, or nil (no cache)
// when size is negative.
func newTokenCache(size int) *tokenCache {
	if size < 0 {
		return nil
	}
	c := &tokenCache{seed: maphash.MakeSeed(), perShard: max(size/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*verified)
	}
	return c
}

func (c *tokenCache) shard(token string) *cacheShard {
	return &c.shards[maphash.String(c.seed, token)%cacheShards]
}

// get returns the entry of token if it holds at now.
func (c *tokenCache) get(token string, now int64) *verified {
	if c == nil {
		return nil
	}
	s := c.shard(token)
	s.mu.RLock()
	v := s.m[token]
	s.mu.RUnlock()
	if v == nil || now < v.notBefore || now >= v.until {
		return nil
	}
	if v.set != nil && v.set.current().generation != v.generation {
		return nil
	}
	return v
}

// put remembers a verified token.
func (c *tokenCache) put(token string, v *verified, now int64) {
	if c == nil {
		return
	}
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		for k, old := range s.m {
			if now >= old.until {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[token] = v
}

// len counts the cached tokens.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// maxCacheHold is how long a token without exp stays cached.
const maxCacheHold = 5 * time.Minute
