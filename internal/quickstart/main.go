// Command quickstart runs Frontdesk's quickstart (`make run`): the built
// frontdesk binary with caddyfile/examples/quickstart.Caddyfile, and, once
// it serves, a list of URLs to try.
//
// Usage: quickstart <frontdesk binary> <Caddyfile>
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: quickstart <frontdesk binary> <Caddyfile>")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], "run", "--config", os.Args[2], "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	admin := env("FRONTDESK_ADMIN", "127.0.0.1:2019")
	if waitReady(admin, exited) {
		front := "http://" + env("FRONTDESK_BIND", "127.0.0.1") + portOf(env("FRONTDESK_LISTEN", ":8080"))
		fmt.Printf(`
Frontdesk is serving the quickstart. Try:

  curl %[1]s/                             a different demo room answers each time
  curl http://%[2]s/reverse_proxy/upstreams   the proxy's view of the rooms
  curl http://%[2]s/config/                   the running config, as JSON

Change the running config without a restart:
  curl -X POST -H 'Content-Type: text/caddyfile' --data-binary @%[3]s http://%[2]s/load

Press Ctrl-C to stop.

`, front, admin, os.Args[2])
	}
	if err := <-exited; err != nil {
		fmt.Fprintln(os.Stderr, "quickstart: frontdesk:", err)
		os.Exit(1)
	}
}

// waitReady waits until the admin API answers, or frontdesk exits.
func waitReady(admin string, exited chan error) bool {
	client := http.Client{Timeout: time.Second}
	for range 300 {
		select {
		case err := <-exited:
			exited <- err
			return false
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := client.Get("http://" + admin + "/config/"); err == nil {
			resp.Body.Close()
			return true
		}
	}
	return false
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// portOf returns the ":port" part of a site address such as ":8080",
// "http://:8080" or "127.0.0.1:8080".
func portOf(site string) string {
	site = strings.TrimPrefix(site, "http://")
	if i := strings.LastIndex(site, ":"); i >= 0 {
		return site[i:]
	}
	return ":80"
}
