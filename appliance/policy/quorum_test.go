package policy

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/guix"
)

const quorumPolicy = `
station = "s1"
modes = ["import"]
[keys]
dir = "k"
[import]
yara_rules = ["r.yar"]
resign_guix = true
[import.quorum]
k = 2
builders = [
  { name = "farm-a", key = "b/a.pub" },
  { name = "farm-b", key = "b/b.pub" },
  { name = "farm-c", key = "b/c.pub" },
]
rules = [ { pattern = "linux-libre-*", k = 3 } ]
[sanitize]
after_import = "never"
[burn]
drive = "stdio:discs/"
[audit]
log_dir = "log"
`

func TestQuorumPolicyLoads(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	os.MkdirAll(filepath.Join(dir, "k"), 0o755)
	os.WriteFile(filepath.Join(dir, "r.yar"), nil, 0o644)
	var keys []*guix.PrivateKey
	for _, n := range []string{"a", "b", "c"} {
		k, err := guix.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		text, _ := k.Public().MarshalText()
		os.WriteFile(filepath.Join(dir, "b", n+".pub"), text, 0o644)
	}
	path := filepath.Join(dir, "policy.toml")
	os.WriteFile(path, []byte(quorumPolicy), 0o644)
	// resign_guix needs the appliance's Guix key.
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "import.resign_guix") {
		t.Fatalf("missing guix-signing-key.sec not reported: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "k", "guix-signing-key.sec"), nil, 0o600)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Import.Quorum.Load()
	if err != nil {
		t.Fatal(err)
	}
	bs := q.Builders()
	if len(bs) != 3 || bs[1].Name != "farm-b" || !bs[1].Key.Equal(keys[1].Public()) {
		t.Fatalf("builders %+v", bs)
	}
	if q.K("/gnu/store/00000000000000000000000000000000-linux-libre-6.1") != 3 || q.K("/gnu/store/00000000000000000000000000000000-hello-2.12") != 2 {
		t.Error("per-pattern k not applied")
	}
	// A key file that is not a Guix public key fails at Load, naming the builder.
	os.WriteFile(filepath.Join(dir, "b", "c.pub"), []byte("(public-key (rsa))"), 0o644)
	if _, err := p.Import.Quorum.Load(); err == nil || !strings.Contains(err.Error(), "farm-c") {
		t.Fatalf("bad key file: %v", err)
	}
}

func TestQuorumPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, key, problem string
	}{
		{"k too large", "k = 2", "k = 4", "import.quorum.k", "out of range 1..3"},
		{"k zero", "k = 2\n", "", "import.quorum.k", "out of range"},
		{"no resign", "resign_guix = true", "resign_guix = false", "import.resign_guix", "must be true with a quorum"},
		{"duplicate name", `name = "farm-c"`, `name = "farm-a"`, "import.quorum.builders[2].name", "twice"},
		{"bad name", `name = "farm-c"`, `name = "farm c"`, "import.quorum.builders[2].name", "letters"},
		{"no key", `key = "b/c.pub"`, `key = ""`, "import.quorum.builders[2].key", "required"},
		{"bad pattern", `"linux-libre-*"`, `"["`, "import.quorum.rules[0].pattern", "pattern"},
		{"rule k", "k = 3 }", "k = 9 }", "import.quorum.rules[0].k", "out of range"},
		{"unknown key", "k = 2\n", "k = 2\nm = 3\n", "import.quorum.m", "unknown key"},
		{"k without builders", "builders = [", "xbuilders = [", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(quorumPolicy, tc.from, tc.to, 1)
			if src == quorumPolicy {
				t.Fatalf("edit %q not applied", tc.from)
			}
			_, err := Parse("q.toml", []byte(src), "/x")
			var pe *Errors
			if !errors.As(err, &pe) {
				t.Fatalf("not *Errors: %v", err)
			}
			for _, e := range pe.List {
				if (tc.key == "" || e.Key == tc.key) && strings.Contains(e.Problem, tc.problem) {
					return
				}
			}
			t.Errorf("want key %q problem %q, got %v", tc.key, tc.problem, err)
		})
	}
	// The quorum alone is a source of approval.
	if _, err := Parse("q.toml", []byte(quorumPolicy), "/x"); err != nil {
		t.Fatal(err)
	}
}
