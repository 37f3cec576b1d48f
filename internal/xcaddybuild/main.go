// Command xcaddybuild builds Frontdesk with xcaddy from the build manifest
// xcaddy.json (`make xcaddy`), the way a user builds Caddy with Frontdesk
// and other plugins.
//
// The manifest names the Caddy version (which must equal the one in go.mod,
// so the xcaddy build and `make build` are the same Caddy), the xcaddy
// version to install, the output path, the plugins (each a module path with
// a version or a local replace), the go build flags, and extra environment.
//
// A plugin built from a local replace is never looked up remotely: its path
// is added to GONOPROXY, GONOSUMDB and GOVCS (as "off"), so the go command
// treats it as not found and takes the replacement. Without that, a module
// proxy that answers an unknown path with 403 instead of 404 stops the build.
//
// Usage: go run ./internal/xcaddybuild [-manifest xcaddy.json]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Manifest is the content of xcaddy.json.
type Manifest struct {
	// CaddyVersion is the Caddy release to build, e.g. "v2.11.9".
	CaddyVersion string `json:"caddy_version"`
	// XcaddyVersion is the xcaddy release that builds it.
	XcaddyVersion string `json:"xcaddy_version"`
	// Output is the binary's path, relative to the manifest.
	Output string `json:"output"`
	// Plugins are the Caddy plugins to build in.
	Plugins []Plugin `json:"plugins"`
	// BuildFlags are the go build flags (XCADDY_GO_BUILD_FLAGS).
	BuildFlags string `json:"build_flags,omitempty"`
	// Env is extra environment for the build, such as CGO_ENABLED.
	Env map[string]string `json:"env,omitempty"`
}

// Plugin is one plugin of the build.
type Plugin struct {
	// ModulePath is the plugin's Go module (or package) path.
	ModulePath string `json:"module_path"`
	// Version pins a released version; empty takes the latest.
	Version string `json:"version,omitempty"`
	// Replace builds the plugin from this local directory, relative to the
	// manifest, instead of a released version.
	Replace string `json:"replace,omitempty"`
}

func main() {
	manifestPath := flag.String("manifest", "xcaddy.json", "path of the build manifest")
	flag.Parse()
	if err := run(*manifestPath); err != nil {
		fmt.Fprintln(os.Stderr, "xcaddybuild:", err)
		os.Exit(1)
	}
}

func run(manifestPath string) error {
	m, root, err := load(manifestPath)
	if err != nil {
		return err
	}
	if err := checkCaddyVersion(root, m.CaddyVersion); err != nil {
		return err
	}
	bin := filepath.Join(root, "bin", "tools")
	install := exec.Command("go", "install", "github.com/caddyserver/xcaddy/cmd/xcaddy@"+m.XcaddyVersion)
	install.Env = append(os.Environ(), "GOBIN="+bin)
	install.Stdout, install.Stderr = os.Stdout, os.Stderr
	if err := install.Run(); err != nil {
		return fmt.Errorf("installing xcaddy %s: %v", m.XcaddyVersion, err)
	}

	args := []string{"build", m.CaddyVersion, "--output", filepath.Join(root, m.Output)}
	env := os.Environ()
	for k, v := range m.Env {
		env = append(env, k+"="+v)
	}
	if m.BuildFlags != "" {
		env = append(env, "XCADDY_GO_BUILD_FLAGS="+m.BuildFlags)
	}
	for _, p := range m.Plugins {
		with := p.ModulePath
		if p.Version != "" {
			with += "@" + p.Version
		}
		if p.Replace != "" {
			with += "=" + filepath.Join(root, p.Replace)
			env = appendList(env, "GONOPROXY", p.ModulePath)
			env = appendList(env, "GONOSUMDB", p.ModulePath)
			env = appendList(env, "GOVCS", p.ModulePath+":off")
		}
		args = append(args, "--with", with)
	}
	fmt.Println("xcaddy", strings.Join(args, " "))
	build := exec.Command(filepath.Join(bin, "xcaddy"), args...)
	build.Env = env
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	return build.Run()
}

// load reads and checks the manifest; root is the directory it is in.
func load(path string) (*Manifest, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	m := new(Manifest)
	if err := dec.Decode(m); err != nil {
		return nil, "", fmt.Errorf("%s: %v", path, err)
	}
	switch {
	case m.CaddyVersion == "":
		return nil, "", fmt.Errorf("%s: caddy_version is required", path)
	case m.XcaddyVersion == "":
		return nil, "", fmt.Errorf("%s: xcaddy_version is required", path)
	case m.Output == "":
		return nil, "", fmt.Errorf("%s: output is required", path)
	}
	for i, p := range m.Plugins {
		if p.ModulePath == "" {
			return nil, "", fmt.Errorf("%s: plugins[%d]: module_path is required", path, i)
		}
		if p.Version != "" && p.Replace != "" {
			return nil, "", fmt.Errorf("%s: plugins[%d] (%s): set version or replace, not both", path, i, p.ModulePath)
		}
	}
	root, err := filepath.Abs(filepath.Dir(path))
	return m, root, err
}

// checkCaddyVersion makes sure the manifest builds the Caddy that go.mod
// (and so `make build` and the tests) uses.
func checkCaddyVersion(root, want string) error {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/caddyserver/caddy/v2")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("reading Caddy's version from go.mod: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		return fmt.Errorf("xcaddy.json builds Caddy %s but go.mod requires %s: make them equal", want, got)
	}
	return nil
}

// appendList adds item to the comma-separated list in the environment
// variable name, keeping what is already there.
func appendList(env []string, name, item string) []string {
	for i := len(env) - 1; i >= 0; i-- {
		if cur, ok := strings.CutPrefix(env[i], name+"="); ok {
			if cur != "" {
				item = cur + "," + item
			}
			break
		}
	}
	return append(env, name+"="+item)
}
