package authn

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "hash-api-key",
		Usage: "[--key <key> | <key>]",
		Short: "Prints the hash of an API key, as a keys file takes it",
		Long: `
Prints the SHA-256 hash of an API key in the form verify_api_key's keys
and keys files take it (sha256:<hex>). The key comes from --key, the
argument, or, without either, the first line of stdin (so that it stays
out of the shell history).
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.MaximumNArgs(1)
			cmd.Flags().String("key", "", "the API key to hash")
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				flagKey, _ := cmd.Flags().GetString("key")
				key, err := keyToHash(flagKey, args, cmd.InOrStdin())
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), hashKey(key))
				return nil
			}
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gen-api-key",
		Usage: "[--id <id>] [--scopes <a,b>] [--owner <name>]",
		Short: "Generates a random API key and prints it with its keys file line",
		Long: `
Generates a new random API key (256 bits from the system's secure random
source) and prints the key, to hand to the client, and the line for a
verify_api_key keys file, which holds only the key's hash.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.NoArgs
			cmd.Flags().String("id", "new-key", "the key's id")
			cmd.Flags().String("scopes", "", "the key's scopes, comma-separated")
			cmd.Flags().String("owner", "", "who holds the key")
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				id, _ := cmd.Flags().GetString("id")
				scopes, _ := cmd.Flags().GetString("scopes")
				owner, _ := cmd.Flags().GetString("owner")
				key := newAPIKey()
				line := keysFileLine(id, hashKey(key), scopes, owner)
				if _, err := parseKeysLine(strings.Fields(line)); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "key:  %s\nline: %s\n", key, line)
				return nil
			}
		},
	})
}

// keyToHash picks the key of hash-api-key: the flag, the argument, or
// the first line of stdin.
func keyToHash(flagKey string, args []string, stdin io.Reader) (string, error) {
	if flagKey != "" && len(args) > 0 {
		return "", fmt.Errorf("give the key either with --key or as the argument")
	}
	key := flagKey
	if len(args) > 0 {
		key = args[0]
	}
	if key == "" {
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			fmt.Fprint(os.Stderr, "API key: ")
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		key = strings.TrimRight(line, "\r\n")
	}
	if key == "" {
		return "", fmt.Errorf("no key given")
	}
	return key, nil
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// apiKeyPrefix starts every generated key, so that secret scanners and
// people can tell what it is.
const apiKeyPrefix = "fdk_"

// newAPIKey returns a new key with 256 random bits.
func newAPIKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// keysFileLine formats one line of a keys file.
func keysFileLine(id, hash, scopes, owner string) string {
	line := id + " " + hash
	if scopes != "" {
		line += " scopes=" + scopes
	}
	if owner != "" {
		line += " owner=" + owner
	}
	return line
}
