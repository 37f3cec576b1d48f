package ratelimit

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// Redis puts the rate limits' state in Redis, so that every Frontdesk
// instance using the same Redis shares one limit per key. Each decision
// is one Lua script run (GCRA on the server's clock): atomic, with no
// read-modify-write round trips. Concurrency limits (max_in_flight) stay
// per instance.
type Redis struct {
	// Address is the Redis server's host:port. Required.
	Address string `json:"address"`

	// Username and Password authenticate to Redis (AUTH); placeholders
	// such as {env.REDIS_PASSWORD} or {file./run/secrets/redis} are
	// replaced when the config loads.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`

	// DB is the Redis database number. Default: 0.
	DB int `json:"db,omitempty"`

	// TLS connects with TLS (for example to port 6380 of a managed Redis).
	TLS bool `json:"tls,omitempty"`

	// TLSServerName is the name the server's certificate must carry.
	// Default: the host of Address.
	TLSServerName string `json:"tls_server_name,omitempty"`

	// TLSCAFile is a PEM file with the CA certificates to trust instead
	// of the system's.
	TLSCAFile string `json:"tls_ca_file,omitempty"`

	// Timeout bounds each decision, connecting included: a slow or
	// unreachable Redis never holds a request up longer. Default: 50ms.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Fallback decides while Redis does not answer: `local` (this
	// instance's in-memory limit, the same settings), `open` (let the
	// request through) or `closed` (answer 503). After a failure a zone
	// leaves Redis alone for a second, so a Redis that is down costs one
	// timeout per second, not one per request. Default: local.
	Fallback string `json:"fallback,omitempty"`

	// KeyPrefix starts every Redis key of the limiter. Default:
	// "frontdesk:rl:".
	KeyPrefix string `json:"key_prefix,omitempty"`
}

func init() {
	redis.SetLogger(redisLogger{})
}

// redisLogger sends go-redis's own messages (failed dials, pool
// trouble) to Caddy's log instead of stderr; failed decisions are logged
// by the limiter with their zone and fallback.
type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	caddy.Log().Named("http.handlers.request_limit.redis").Debug(fmt.Sprintf(format, v...))
}

// Fallback policies.
const (
	FallbackLocal  = "local"
	FallbackOpen   = "open"
	FallbackClosed = "closed"
)

// gcraScript decides one request: KEYS[1] is the key, ARGV[1] the
// interval and ARGV[2] the tolerance, in microseconds. It answers
// {admitted (1/0), retry after, TAT - now}, in microseconds. The key
// expires when its TAT passes, when it no longer holds anything back.
var gcraScript = redis.NewScript(`
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now - tolerance, tat - now}
end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
return {1, 0, tat - now}
`)

// redisClients holds the Redis connections across config loads, keyed by
// the connection settings.
var redisClients = caddy.NewUsagePool()

// redisBackend is a pooled Redis client.
type redisBackend struct {
	client *redis.Client
}

// Destruct closes the client once no config uses it.
func (b *redisBackend) Destruct() error { return b.client.Close() }

func (r *Redis) provision() error {
	repl := caddy.NewReplacer()
	r.Username, r.Password = repl.ReplaceAll(r.Username, ""), repl.ReplaceAll(r.Password, "")
	if r.Timeout == 0 {
		r.Timeout = caddy.Duration(50 * time.Millisecond)
	}
	if r.Fallback == "" {
		r.Fallback = FallbackLocal
	}
	if r.KeyPrefix == "" {
		r.KeyPrefix = "frontdesk:rl:"
	}
	switch {
	case r.Address == "":
		return fmt.Errorf("redis: address is required")
	case r.Timeout < 0:
		return fmt.Errorf("redis: timeout must be positive")
	case r.Fallback != FallbackLocal && r.Fallback != FallbackOpen && r.Fallback != FallbackClosed:
		return fmt.Errorf("redis: fallback %q: want local, open or closed", r.Fallback)
	}
	return nil
}

// poolKey identifies the connection settings (the password by hash).
func (r *Redis) poolKey() string {
	k := *r
	sum := sha256.Sum256([]byte(r.Password))
	k.Password = hex.EncodeToString(sum[:])
	k.Fallback, k.KeyPrefix = "", ""
	b, _ := json.Marshal(k)
	return string(b)
}

// acquire returns the pooled client for these settings; release it with
// redisClients.Delete(key).
func (r *Redis) acquire() (*redis.Client, string, error) {
	key := r.poolKey()
	v, _, err := redisClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		opts := &redis.Options{
			Addr: r.Address, Username: r.Username, Password: r.Password, DB: r.DB,
			DialTimeout: time.Duration(r.Timeout), ReadTimeout: time.Duration(r.Timeout),
			WriteTimeout: time.Duration(r.Timeout), ContextTimeoutEnabled: true,
			MaxRetries: -1, PoolTimeout: time.Duration(r.Timeout),
		}
		if r.TLS {
			cfg, err := r.tlsConfig()
			if err != nil {
				return nil, err
			}
			opts.TLSConfig = cfg
		}
		return &redisBackend{client: redis.NewClient(opts)}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(*redisBackend).client, key, nil
}

func (r *Redis) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.TLSServerName}
	if r.TLSCAFile != "" {
		pem, err := os.ReadFile(r.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("redis: tls_ca_file: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis: tls_ca_file %s holds no PEM certificate", r.TLSCAFile)
		}
	}
	return cfg, nil
}

// redisZone is a zone's link to Redis: it skips Redis for a second after
// a failure, so a Redis that is down costs one timeout per second, not
// one per request.
type redisZone struct {
	client    *redis.Client
	key       string // prefix + zone name + ":"
	timeout   time.Duration
	downUntil atomic.Int64 // unix nanoseconds
}

// errRedisResting is returned while a zone skips Redis after a failure.
var errRedisResting = fmt.Errorf("redis failed less than a second ago")

// take runs the GCRA script for key.
func (rz *redisZone) take(ctx context.Context, g *gcra, key string) (decision, error) {
	if time.Now().UnixNano() < rz.downUntil.Load() {
		return decision{}, errRedisResting
	}
	ctx, cancel := context.WithTimeout(ctx, rz.timeout)
	defer cancel()
	res, err := gcraScript.Run(ctx, rz.client, []string{rz.key + key}, g.interval/1000, g.tolerance/1000).Int64Slice()
	if err == nil && len(res) != 3 {
		err = fmt.Errorf("redis script answered %v", res)
	}
	if err != nil {
		rz.downUntil.Store(time.Now().Add(time.Second).UnixNano())
		return decision{}, err
	}
	ahead := res[2] * 1000
	if res[0] == 0 {
		return decision{reset: time.Duration(ahead), retryAfter: time.Duration(res[1] * 1000)}, nil
	}
	return g.admitted(ahead), nil
}
