package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// AdminEnv names the environment variable that carries the admin API address
// into a Caddyfile (`admin {$FRONTDESK_ADMIN}`), as in the examples.
const AdminEnv = "FRONTDESK_ADMIN"

// Frontdesk is a running frontdesk binary.
type Frontdesk struct {
	*Process
	// Admin is the host:port of its admin API.
	Admin string
	// Dir is its working directory (HOME and XDG dirs point inside it).
	Dir string
	env []string
}

// Adapter names the config format of a config body.
type Adapter string

// Config adapters understood by the harness.
const (
	Caddyfile Adapter = "caddyfile"
	JSON      Adapter = "json"
)

// StartFrontdesk runs `frontdesk run` with config and waits until its admin
// API answers. A Caddyfile must take its admin address from
// {$FRONTDESK_ADMIN}; a JSON config gets admin.listen set by the harness.
// env adds variables to the process environment (e.g. FRONTDESK_LISTEN).
func StartFrontdesk(t testing.TB, config string, adapter Adapter, env ...string) *Frontdesk {
	t.Helper()
	return StartFrontdeskBinary(t, Binary(t), config, adapter, env...)
}

// StartFrontdeskBinary is StartFrontdesk with another frontdesk binary, such
// as an earlier build that a benchmark compares against.
func StartFrontdeskBinary(t testing.TB, binary, config string, adapter Adapter, env ...string) *Frontdesk {
	t.Helper()
	dir := t.TempDir()
	fd := &Frontdesk{Admin: FreeAddr(t), Dir: dir}
	body, err := fd.prepare(config, adapter)
	if err != nil {
		t.Fatalf("frontdesk config: %v", err)
	}
	path := filepath.Join(dir, "config."+string(adapter))
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	// Caddy keeps its data and config autosave under HOME/XDG dirs; keep them
	// inside the test's dir so runs never share or leave state.
	fd.env = append([]string{
		AdminEnv + "=" + fd.Admin,
		"HOME=" + dir,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
	}, env...)
	args := []string{"run", "--config", path}
	if adapter != JSON { // JSON is Caddy's native format, not an adapter
		args = append(args, "--adapter", string(adapter))
	}
	fd.Process = StartProcess(t, dir, binary, fd.env, args...)
	err = Eventually(20*time.Second, 50*time.Millisecond, func() error {
		if fd.Exited() {
			return fmt.Errorf("frontdesk exited during start-up")
		}
		_, err := fd.AdminGet("/config/")
		return err
	})
	if err != nil {
		t.Fatalf("frontdesk admin API at %s never answered: %v", fd.Admin, err)
	}
	return fd
}

// prepare checks that config will listen for admin requests where the harness
// expects, setting admin.listen in a JSON config.
func (fd *Frontdesk) prepare(config string, adapter Adapter) ([]byte, error) {
	switch adapter {
	case Caddyfile:
		if !strings.Contains(config, "{$"+AdminEnv) {
			return nil, fmt.Errorf("the Caddyfile must set `admin {$%s}` in its global options", AdminEnv)
		}
		return []byte(config), nil
	case JSON:
		var cfg map[string]any
		if err := json.Unmarshal([]byte(config), &cfg); err != nil {
			return nil, fmt.Errorf("parsing JSON config: %v", err)
		}
		admin, _ := cfg["admin"].(map[string]any)
		if admin == nil {
			admin = map[string]any{}
		}
		admin["listen"] = fd.Admin
		cfg["admin"] = admin
		return json.Marshal(cfg)
	}
	return nil, fmt.Errorf("unknown adapter %q", adapter)
}

var adminClient = &http.Client{Timeout: 30 * time.Second}

// AdminGet GETs path from the admin API and returns the body of a 200 answer.
func (fd *Frontdesk) AdminGet(path string) ([]byte, error) {
	return fd.admin(http.MethodGet, path, "", nil)
}

// Load replaces the running config through `POST /load`.
func (fd *Frontdesk) Load(config string, adapter Adapter) error {
	body := []byte(config)
	if adapter == JSON {
		var err error
		if body, err = fd.prepare(config, adapter); err != nil {
			return err
		}
	}
	ctype := "application/json"
	if adapter == Caddyfile {
		ctype = "text/caddyfile"
	}
	_, err := fd.admin(http.MethodPost, "/load", ctype, body)
	return err
}

func (fd *Frontdesk) admin(method, path, ctype string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, "http://"+fd.Admin+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}

// CLI runs the frontdesk binary with args (e.g. "reload", "--config", f)
// in the instance's environment and returns its combined output.
func (fd *Frontdesk) CLI(args ...string) (string, error) {
	cmd := exec.Command(fd.Process.cmd.Path, args...)
	cmd.Env = append(os.Environ(), fd.env...)
	cmd.Dir = fd.Dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
