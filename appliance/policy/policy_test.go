package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDemo(t *testing.T) {
	b, err := os.ReadFile("testdata/demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("demo.toml", b, "/etc/airlock")
	if err != nil {
		t.Fatal(err)
	}
	if p.Station != "airlock-demo" || len(p.Modes) != 3 || !p.Has(ModeCheck) {
		t.Errorf("station/modes: %+v", p)
	}
	if p.Keys.Dir != "/etc/airlock/keys" || p.Import.ApproverKeys[0] != "/etc/airlock/keys/approver.pub" {
		t.Errorf("relative paths not resolved: %q %q", p.Keys.Dir, p.Import.ApproverKeys)
	}
	if p.Import.SpoolMax != 8<<30 || p.Limits.MaxExpanded != 32<<30 {
		t.Errorf("sizes: %d %d", p.Import.SpoolMax, p.Limits.MaxExpanded)
	}
	if time.Duration(p.Limits.ScanTimeout) != 5*time.Minute {
		t.Errorf("scan_timeout %v", time.Duration(p.Limits.ScanTimeout))
	}
	if p.SHA256 == [32]byte{} {
		t.Error("policy hash not set")
	}
}

const minimal = `
station = "s1"
modes = ["import"]
[keys]
dir = "k"
[import]
guix_acl = "acl"
yara_rules = ["r.yar"]
[sanitize]
after_import = "never"
[burn]
drive = "stdio:discs/"
[audit]
log_dir = "log"
`

func TestParseMinimal(t *testing.T) {
	p, err := Parse("p", []byte(minimal), "/x")
	if err != nil {
		t.Fatal(err)
	}
	if p.Burn.Drive != "stdio:/x/discs/" {
		t.Errorf("stdio drive resolved to %q", p.Burn.Drive)
	}
	if p.Limits.MaxDepth != 8 || p.Limits.MaxRatio != 100 {
		t.Errorf("defaults lost: %+v", p.Limits)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, edit, key, problem string
	}{
		{"unknown top key", "foo = 1\n" + minimal, "foo", "unknown key"},
		{"unknown nested key", strings.Replace(minimal, "[keys]\n", "[keys]\npasphrase = true\n", 1), "keys.pasphrase", "unknown key"},
		{"unknown table", minimal + "\n[network]\nip = \"1.2.3.4\"\n", "network.ip", "unknown key"},
		{"no station", strings.Replace(minimal, `station = "s1"`, "", 1), "station", "required"},
		{"bad station", strings.Replace(minimal, `"s1"`, `"a b"`, 1), "station", "letters"},
		{"bad mode", strings.Replace(minimal, `["import"]`, `["import","exfiltrate"]`, 1), "modes", "unknown mode"},
		{"dup mode", strings.Replace(minimal, `["import"]`, `["import","import"]`, 1), "modes", "twice"},
		{"wrong type", strings.Replace(minimal, `["import"]`, `"import"`, 1), "modes", ""},
		{"bad method", minimal + "", "sanitize.method", "unknown method"},
		{"bad size", strings.Replace(minimal, "[import]\n", "[import]\nspool_max = \"lots\"\n", 1), "import.spool_max", ""},
		{"bad duration", minimal + "\n[limits]\nscan_timeout = \"soon\"\n", "limits.scan_timeout", ""},
		{"depth range", minimal + "\n[limits]\nmax_depth = 0\n", "limits.max_depth", "out of range"},
		{"no approve source", strings.Replace(minimal, `guix_acl = "acl"`, "", 1), "import", "nothing can ever be approved"},
		{"allowlist without key", strings.Replace(minimal, "[import]\n", "[import]\nallowlist = \"a\"\n", 1), "import.approver_keys", "required"},
		{"bad drive", strings.Replace(minimal, `"stdio:discs/"`, `"sr0"`, 1), "burn.drive", "want /dev/srN"},
		{"no audit", strings.Replace(minimal, `log_dir = "log"`, `log_label = ""`, 1), "audit", "required"},
		{"led path", minimal + "\n[leds]\nready = \"../../etc/passwd\"\n", "leds.ready", "not a path"},
		{"after import needs sanitize", strings.Replace(minimal, `after_import = "never"`, `after_import = "ask"`, 1), "sanitize.after_import", "needs the sanitize mode"},
		{"syntax", minimal + "\n[[[\n", "", "line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.edit
			if tc.name == "bad method" {
				src = strings.Replace(minimal, "[sanitize]\n", "[sanitize]\nmethod = \"shred\"\n", 1)
			}
			_, err := Parse("p.toml", []byte(src), "/x")
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			var pe *Errors
			if !errors.As(err, &pe) {
				t.Fatalf("not *Errors: %v", err)
			}
			found := false
			for _, e := range pe.List {
				if (tc.key == "" || e.Key == tc.key) && strings.Contains(e.Problem, tc.problem) {
					found = true
				}
			}
			if !found {
				t.Errorf("want key %q problem %q, got %v", tc.key, tc.problem, err)
			}
			if !strings.Contains(err.Error(), "p.toml") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestLoadChecksFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(path, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "import.guix_acl") || !strings.Contains(err.Error(), "import.yara_rules") {
		t.Fatalf("missing files not reported by key: %v", err)
	}
	for _, f := range []string{"acl", "r.yar"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, "k"), 0o755)
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "10": 10, "1KiB": 1024, "2MB": 2e6, "4GiB": 4 << 30, " 7 B ": 7} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5GiB", "1PB", "99999999999TiB", "GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/demo.toml")
	f.Add(b)
	f.Add([]byte(minimal))
	f.Add([]byte("station = 1\n[keys]\ndir=[1,2]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("fuzz", b, "/x")
		if err == nil && p.Station == "" {
			t.Fatal("accepted a policy without station")
		}
	})
}
