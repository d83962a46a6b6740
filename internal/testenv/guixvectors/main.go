// Command guixvectors writes the full set of real Guix test vectors into a directory, for the
// demo scripts, which have no testing.T: `go run ./internal/testenv/guixvectors DIR`.
// It derives what the module does not carry and checks every file against SHA256SUMS
// (see internal/testenv.WriteGuixVectors).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/airlock-appliance/airlock/internal/testenv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: guixvectors DIR")
		os.Exit(2)
	}
	src := filepath.Join(testenv.RepoRoot(), testenv.GuixVectorsSource)
	if err := testenv.WriteGuixVectors(src, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "guixvectors:", err)
		os.Exit(1)
	}
}
