package caddyfile_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exampleVar matches an environment variable of an example, as used
// ({$FRONTDESK_X} or {$FRONTDESK_X:default}) or as documented (FRONTDESK_X).
var (
	exampleVarUse = regexp.MustCompile(`\{\$(FRONTDESK_[A-Z0-9_]+)`)
	exampleVarDoc = regexp.MustCompile(`^#\s+(FRONTDESK_[A-Z0-9_]+)\s`)
)

// TestExamples checks every example Caddyfile: it adapts without errors or
// warnings, and its header comment lists every environment variable it
// uses, since docs, the quickstart and black-box tests start from these
// files and configure them only through those variables.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("examples/*.Caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example Caddyfiles found: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var documented []string
			for _, line := range strings.Split(string(data), "\n") {
				if !strings.HasPrefix(line, "#") {
					break
				}
				if m := exampleVarDoc.FindStringSubmatch(line); m != nil {
					documented = append(documented, m[1])
				}
			}
			for _, m := range exampleVarUse.FindAllStringSubmatch(string(data), -1) {
				if !slices.Contains(documented, m[1]) {
					t.Errorf("uses {$%s} but its header comment does not list it", m[1])
				}
			}
			if _, err := adapt(string(data)); err != nil {
				t.Errorf("adapting with the default environment: %v", err)
			}
		})
	}
}
