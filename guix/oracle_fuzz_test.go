package guix_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/guix"
)

// fuzzing reports whether the test binary runs a fuzz target's fuzzing engine (-test.fuzz), not
// just its seed corpus.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// FuzzOracleImport: for any bytes, when airlock accepts them as an export under an ACL that
// authorizes a real guix-daemon's key, that daemon imports them (`guix archive --import` into
// a store authorizing the same key, emptied after each input). The seeds are a real 5-item
// export and its one-item parts. The daemon is slow (about a second per input), so it runs
// only under -fuzz with AIRLOCK_GUIX_ORACLE_FUZZ=1; TestOracle's differential covers the seeds
// in `make test`.
func FuzzOracleImport(f *testing.F) {
	if !fuzzing() || os.Getenv("AIRLOCK_GUIX_ORACLE_FUZZ") == "" {
		// Opt in: a first 20 s run made 8 executions and then stalled (not yet understood), so
		// scripts/fuzz.sh must not wait on it.
		f.Skip("the daemon-as-oracle fuzz target runs under -fuzz with AIRLOCK_GUIX_ORACLE_FUZZ=1 only (TestOracle covers its seeds)")
	}
	it := makeRealItems(f)
	acl, err := guix.ParseACL(it.acl)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(it.export)
	for _, b := range it.single {
		f.Add(b)
	}
	host, in := it.sink.TempDir()
	scm, err := os.ReadFile("testdata/oracle-import.scm")
	if err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "import.scm"), scm, 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "list"), []byte(in+"/input.export\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := guix.VerifyExport(context.Background(), bytes.NewReader(b), acl, nil)
		if err != nil {
			t.Fatalf("VerifyExport: %v", err)
		}
		if !rep.Accept {
			return // airlock stricter or both refuse: only the other way round is a bug
		}
		if err := os.WriteFile(filepath.Join(host, "input.export"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := it.sink.Run(ctx, nil, "repl", "--", in+"/import.scm", in+"/list")
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if _, v, _ := strings.Cut(strings.TrimSpace(string(out)), "\t"); v != "ACCEPT" {
			t.Fatalf("airlock accepts an export that guix-daemon refuses: %s", v)
		}
	})
}
