// Command quickstart runs Frontdesk's quickstart (`make run`): a throwaway
// MariaDB primary and replica (started the way the tests start them, when
// MariaDB is installed), the built frontdesk binary with
// caddyfile/examples/quickstart.Caddyfile in front of them, and, once it
// serves, a list of things to try.
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

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

// demoAPIKey is the public demo key whose hash quickstart.Caddyfile holds.
const demoAPIKey = "fdk_demo_partner_key_do_not_use_in_production"

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: quickstart <frontdesk binary> <Caddyfile>")
		os.Exit(2)
	}
	r := new(runner)
	defer r.stop()
	cluster := startCluster(r)
	cmd := exec.Command(os.Args[1], "run", "--config", os.Args[2], "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	if cluster != nil {
		cmd.Env = append(cmd.Env,
			"FRONTDESK_MYSQL_PRIMARY="+cluster.Primary.Addr(),
			"FRONTDESK_MYSQL_REPLICAS="+cluster.Replicas[0].Addr(),
			"FRONTDESK_MYSQL_USER="+harness.TestUser,
			"FRONTDESK_MYSQL_PASSWORD="+harness.TestPassword)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		r.stop()
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
		bind := env("FRONTDESK_BIND", "127.0.0.1")
		front := "http://" + bind + portOf(env("FRONTDESK_LISTEN", ":8080"))
		dashboard := "http://" + bind + portOf(env("FRONTDESK_DASHBOARD_LISTEN", ":8090")) + "/"
		fmt.Printf(`
Frontdesk is serving the quickstart. The live dashboard is at

  %[5]s

Try:

  curl %[1]s/                             one of the demo rooms answers
  curl -i %[1]s/partner/orders            401: the partner area needs an API key
  curl -H 'X-API-Key: %[4]s' \
       %[1]s/partner/orders               the demo partner's key gets in
  curl http://%[2]s/frontdesk/upstreams       the proxy's view of the rooms: latency, load, breakers
  curl -i %[1]s/staff/keys                    403: the firewall keeps guests out of /staff
  for i in $(seq 25); do curl -s -o /dev/null -w '%%{http_code} ' %[1]s/; done
                                              429 once a guest passes 20 requests a second
  curl http://%[2]s/frontdesk/firewall        hits per firewall rule
  curl http://%[2]s/frontdesk/rate_limits     keys and decisions per rate-limit zone
  curl http://%[2]s/config/                   the running config, as JSON

Change the running config without a restart:
  curl -X POST -H 'Content-Type: text/caddyfile' --data-binary @%[3]s http://%[2]s/load
`, front, admin, os.Args[2], demoAPIKey, dashboard)
		if cluster != nil {
			printMySQL(cluster, env("FRONTDESK_MYSQL_LISTEN", "127.0.0.1:3307"), admin)
		} else {
			fmt.Println("\n(MariaDB is not installed here, so the MySQL part is off: apt-get install mariadb-server)")
		}
		fmt.Print("\nPress Ctrl-C to stop.\n\n")
	}
	err := <-exited
	r.stop()
	if err != nil {
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

// printMySQL shows how to see the read/write split at work.
func printMySQL(c *harness.Cluster, listen, admin string) {
	host, port, _ := strings.Cut(listen, ":")
	cli := fmt.Sprintf("mariadb -h%s -P%s -u%s -p%s %s", host, port, harness.TestUser, harness.TestPassword, harness.TestDatabase)
	fmt.Printf(`
MySQL through Frontdesk (primary on port %d, replica on port %d):

  %[3]s -e 'SELECT @@port, COUNT(*) FROM rooms'
      a read: answered by the replica's port
  %[3]s -e 'INSERT INTO rooms VALUES (104, "Alan")'
      a write: runs on the primary, and reaches the replica by replication
  %[3]s --comments -e '/* frontdesk:primary */ SELECT @@port'
      a routing hint (the mariadb client keeps comments only with --comments)
  curl http://%[4]s/mysql/servers
      statements routed to the primary and to the replica
`, c.Primary.Port, c.Replicas[0].Port, cli, admin)
}
