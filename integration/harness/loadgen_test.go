package harness

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestLoadCountsOutcomes checks that each kind of outcome lands in its own
// counter: answers by status and backend, refused connects, and a server
// that drops keep-alive connections after answering.
func TestLoadCountsOutcomes(t *testing.T) {
	b := StartBackend(t, "b1")
	b.SetErrorRate(0.25)
	res := RunLoad(LoadConfig{Target: b.Addr, Connections: 2, Duration: time.Second, MaxRequests: 400})
	if res.Requests() != 400 || res.Non2xx != 100 || res.OK != 300 || res.ByBackend["b1"] != 400 {
		t.Errorf("against a backend failing 1 in 4: %s; want 300 ok and 100 non-2xx from b1", res)
	}
	if res.Conns != 2 || res.Errors() != 0 {
		t.Errorf("keep-alive connections were not kept: %s", res)
	}

	b.Kill()
	res = RunLoad(LoadConfig{Target: b.Addr, Connections: 1, Duration: 200 * time.Millisecond})
	if res.ConnectErrors == 0 || res.Requests() != 0 {
		t.Errorf("against a closed port: %s; want connect errors only", res)
	}

	// A server that closes every connection after its first answer, without
	// saying so, breaks the next request on the reused connection.
	addr := dropAfterOneAnswer(t)
	res = RunLoad(LoadConfig{Target: addr, Connections: 1, Duration: 5 * time.Second, MaxRequests: 20})
	if res.OK == 0 || res.ReusedConnErrors == 0 || res.FreshConnErrors != 0 || res.OK+res.ReusedConnErrors != 20 {
		t.Errorf("against a server dropping kept-alive connections: %s; want 20 requests split into ok and reused-conn errors", res)
	}
}

func dropAfterOneAnswer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			}()
		}
	}()
	return ln.Addr().String()
}
