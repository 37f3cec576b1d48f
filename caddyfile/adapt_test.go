package caddyfile_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/frontdesk-proxy/frontdesk"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of every golden adapt test")

// goldenSeparator divides a golden file into its Caddyfile and its
// expectation.
const goldenSeparator = "----------"

// TestAdapt runs every testdata/adapt/*.caddyfiletest: a Caddyfile, a line
// of dashes, then either the JSON that `frontdesk adapt` must produce
// (tab-indented) or, when it does not start with "{", a substring of the
// error adapting must fail with. `go test -run TestAdapt -update` rewrites
// the JSON expectations from the current output.
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden adapt tests found: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(strings.ReplaceAll(string(data), "\r\n", "\n"), goldenSeparator)
			if !ok {
				t.Fatalf("%s has no %q line between the Caddyfile and the expectation", file, goldenSeparator)
			}
			input, want = strings.TrimSpace(input)+"\n", strings.TrimSpace(want)
			got, adaptErr := adapt(input)

			if !strings.HasPrefix(want, "{") {
				if adaptErr == nil {
					t.Fatalf("adapting succeeded, want an error containing %q; got:\n%s", want, got)
				}
				if !strings.Contains(adaptErr.Error(), want) {
					t.Fatalf("adapt error %q does not contain %q", adaptErr, want)
				}
				return
			}
			if adaptErr != nil {
				t.Fatalf("adapting: %v", adaptErr)
			}
			if *update {
				out := strings.TrimSpace(input) + "\n" + goldenSeparator + "\n" + got + "\n"
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("adapted JSON differs from the golden file (rerun with -update to accept)\n--- got:\n%s\n--- want:\n%s", got, want)
			}
		})
	}
}

// adapt turns a Caddyfile into tab-indented JSON, failing on warnings as
// well as errors so that golden files never hide a warning.
func adapt(caddyfile string) (string, error) {
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		return "", err
	}
	if len(warnings) > 0 {
		w, _ := json.Marshal(warnings)
		return "", &adaptWarnings{string(w)}
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		return "", err
	}
	return buf.String(), nil
}

type adaptWarnings struct{ list string }

func (w *adaptWarnings) Error() string { return "adapting gave warnings: " + w.list }
