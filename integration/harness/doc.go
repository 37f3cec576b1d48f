// Package harness starts the real parts that Frontdesk's end-to-end tests
// need and drives them: the built frontdesk binary (through its admin API),
// HTTP backends whose latency, error rate and liveness change at run time, a
// MariaDB primary with GTID replicas, and a wrk-like load generator.
//
// Everything runs on loopback, on free ports, in the test's temp dirs, and is
// stopped by PID when the test ends. With CI=true in the environment, a part
// that cannot be started fails the test instead of skipping it.
package harness
