// Command checksecrets is scripts/boot-medium.sh's key check: it lists the secret keys of a site
// folder and exits 1 when one is in plaintext, unless -demo.
//
//	go run ./bootmedium/cmd/checksecrets [-demo] DIR
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/airlock-appliance/airlock/bootmedium"
)

func main() {
	demo := flag.Bool("demo", false, "allow plaintext secret keys (a demo medium; its keys are public)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: checksecrets [-demo] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir := flag.Arg(0)
	found, err := bootmedium.Check(os.DirFS(dir), dir, *demo)
	for _, f := range found {
		fmt.Printf("boot-medium: secret key %s/%s: %v\n", dir, f.Path, f.Kind)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "boot-medium: %v\n", err)
		os.Exit(1)
	}
	for _, f := range found {
		if f.Kind.Plaintext() {
			fmt.Printf("boot-medium: WARNING: %s/%s is not encrypted: allowed for a demo medium only\n", dir, f.Path)
		}
	}
}
