package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Redis is a redis-server started by a test, on a free loopback port in a
// temp dir, with nothing persisted.
type Redis struct {
	Addr string
	Port int
	// Password is required from clients when set at start.
	Password string
	// certFile and keyFile, when set, make it serve TLS only.
	certFile, keyFile string
	proc              *Process
	dir               string
	t                 T
}

// StartRedis starts redis-server from Debian's redis-server package (a
// skip, or in CI a failure, when it is missing). A non-empty password is
// required of clients. It is killed by PID when the test ends.
func StartRedis(t T, password string) *Redis {
	t.Helper()
	return startRedis(t, password, "", "")
}

// StartRedisTLS starts redis-server like StartRedis, serving only TLS
// with the given PEM certificate and key (clients need no certificate).
func StartRedisTLS(t T, password, certFile, keyFile string) *Redis {
	t.Helper()
	return startRedis(t, password, certFile, keyFile)
}

func startRedis(t T, password, certFile, keyFile string) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		Unavailable(t, "redis-server not found (apt-get install redis-server): %v", err)
	}
	dir, err := os.MkdirTemp("", "frontdesk-redis-")
	if err != nil {
		t.Fatalf("redis temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &Redis{Port: FreePort(t), Password: password, certFile: certFile, keyFile: keyFile, dir: dir, t: t}
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
	r.start()
	return r
}

func (r *Redis) start() {
	r.t.Helper()
	args := []string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"}
	if r.certFile != "" {
		args[1] = "0"
		args = append(args, "--tls-port", strconv.Itoa(r.Port), "--tls-cert-file", r.certFile,
			"--tls-key-file", r.keyFile, "--tls-auth-clients", "no")
	}
	if r.Password != "" {
		args = append(args, "--requirepass", r.Password)
	}
	r.proc = StartProcess(r.t, r.dir, "redis-server", nil, args...)
	err := Eventually(10*time.Second, 20*time.Millisecond, func() error {
		if r.proc.Exited() {
			return fmt.Errorf("redis-server exited: %s", r.proc.LogTail(5))
		}
		c, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		r.t.Fatalf("redis-server on %s never answered: %v", r.Addr, err)
	}
}

// Kill ends redis-server at once, by its PID.
func (r *Redis) Kill() { r.proc.Kill() }

// Restart starts redis-server again on the same port after Kill; its data
// is gone.
func (r *Redis) Restart() {
	r.t.Helper()
	r.start()
}
