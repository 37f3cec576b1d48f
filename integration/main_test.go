// Package integration holds Frontdesk's end-to-end tests: the built binary
// driven through its admin API, in front of real HTTP backends and a real
// MariaDB primary with replicas (see the harness package).
package integration

import (
	"os"
	"testing"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
