package appliance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/airlock-appliance/airlock/guix/channel"
	"github.com/airlock-appliance/airlock/internal/testenv"
	"github.com/airlock-appliance/airlock/sandbox"
	"github.com/airlock-appliance/airlock/scanner"
	"github.com/airlock-appliance/airlock/sealing/auditlog"
	"golang.org/x/mod/sumdb/note"
)

// chanFixture is a Guix channel made with the real git and gpg, as Guix's own
// tests/git-authenticate.scm builds them (a fresh GNUPGHOME, keys in batch mode, signed
// commits), with the branches the station tests take bundles of.
type chanFixture struct {
	t          *testing.T
	dir, gnupg string
	intro      string
	alice      string // authorized (the introduction's signer)
	mallory    string // in the keyring, never authorized
	c1, c2     string // alice's commits after the introduction (c2 descends from c1)
	fork       string // alice's commit on c1, not a descendant of c2
	evil       string // mallory's commit on c2
	tampered   string // c2 with its message changed after it was signed
	eicar      string // alice's commit on c2 adding the EICAR test file
	bundles    map[string][]byte
}

func (f *chanFixture) run(stdin string, name string, args ...string) string {
	f.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = f.dir
	cmd.Env = append(os.Environ(), "GNUPGHOME="+f.gnupg, "GIT_CONFIG_NOSYSTEM=1", "HOME="+f.dir,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.Output()
	if err != nil {
		f.t.Fatalf("%s %v: %v", name, args, err)
	}
	return strings.TrimSpace(string(out))
}

func (f *chanFixture) git(args ...string) string { return f.run("", "git", args...) }

func (f *chanFixture) key(name string) string {
	f.run("", "gpg", "--batch", "--passphrase", "", "--quick-gen-key", name+" <"+name+"@example.org>", "ed25519", "sign", "never")
	for _, l := range strings.Split(f.run("", "gpg", "--with-colons", "--fingerprint", name+"@example.org"), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			return strings.Split(l, ":")[9]
		}
	}
	f.t.Fatalf("no fingerprint for %s", name)
	return ""
}

func (f *chanFixture) write(name, content string) {
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.git("add", name)
}

func (f *chanFixture) commit(msg, fpr string) string {
	f.git("commit", "-q", "--allow-empty", "-S"+fpr+"!", "-m", msg)
	return f.git("rev-parse", "HEAD")
}

var (
	chanOnce sync.Once
	chanFix  *chanFixture
)

// newChanFixture builds the channel once per test binary (a few seconds of gpg).
func newChanFixture(t *testing.T) *chanFixture {
	testenv.Need(t, "git", "gpg")
	chanOnce.Do(func() {
		dir, err := os.MkdirTemp("", "airlock-channel-fixture-")
		if err != nil {
			t.Fatal(err)
		}
		f := &chanFixture{t: t, dir: filepath.Join(dir, "repo"), gnupg: filepath.Join(dir, "gnupg"), bundles: map[string][]byte{}}
		os.MkdirAll(f.dir, 0o755)
		os.MkdirAll(f.gnupg, 0o700)
		f.git("init", "-q", "-b", "main")
		f.alice, f.mallory = f.key("alice"), f.key("mallory")
		f.git("checkout", "-q", "--orphan", "keyring")
		f.write("alice.key", f.run("", "gpg", "--armor", "--export", f.alice))
		f.write("mallory.key", f.run("", "gpg", "--armor", "--export", f.mallory))
		f.commit("keyring", f.alice)
		f.git("checkout", "-q", "--orphan", "main")
		f.git("rm", "-q", "-rf", "--cached", ".")
		os.Remove(filepath.Join(f.dir, "alice.key"))
		os.Remove(filepath.Join(f.dir, "mallory.key"))
		f.write(".guix-authorizations", "(authorizations (version 0)\n ((\""+f.alice[:20]+"  "+f.alice[20:]+"\" (name \"alice\"))))\n")
		f.intro = f.commit("introduction", f.alice)
		f.write("hello.scm", "(define-public hello 1)\n")
		f.c1 = f.commit("hello", f.alice)
		f.write("hello.scm", "(define-public hello 2)\n")
		f.c2 = f.commit("hello 2", f.alice)
		f.git("checkout", "-q", "-b", "fork", f.c1)
		f.write("fork.scm", "(define-public fork 1)\n")
		f.fork = f.commit("fork", f.alice)
		f.git("checkout", "-q", "-b", "evil", f.c2)
		f.write("evil.scm", "(define-public evil 1)\n")
		f.evil = f.commit("mallory was here", f.mallory)
		f.git("checkout", "-q", "-b", "malware", f.c2)
		f.write("eicar.com", `X5O!P%@AP[4\PZX54(P^)7CC)7}$`+"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
		f.eicar = f.commit("test file", f.alice)
		raw := f.git("cat-file", "commit", f.c2)
		f.tampered = f.run(strings.Replace(raw, "hello 2", "hello 3", 1)+"\n", "git", "hash-object", "-t", "commit", "-w", "--stdin")
		f.git("update-ref", "refs/heads/tampered", f.tampered)
		for _, b := range []struct{ name, rev string }{{"c1", f.c1}, {"c2", f.c2}, {"fork", "fork"}, {"evil", "evil"},
			{"malware", "malware"}, {"tampered", "tampered"}} {
			if b.rev == f.c1 || b.rev == f.c2 {
				f.git("branch", "-f", "at-"+b.name, b.rev)
				b.rev = "at-" + b.name
			}
			p := filepath.Join(dir, b.name+".bundle")
			f.git("bundle", "create", "-q", p, b.rev, "keyring")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f.bundles[b.name] = data
		}
		f.git("checkout", "-q", "main")
		// HEAD (main, at c2) is the target; the evil branch rides along unauthenticated.
		p := filepath.Join(dir, "extra.bundle")
		f.git("bundle", "create", "-q", p, "HEAD", "keyring", "evil")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f.bundles["extra"] = data
		chanFix = f
	})
	if chanFix == nil {
		t.Fatal("channel fixture failed in an earlier test")
	}
	return chanFix
}

// policy is the station's channel "guix" pinned at the fixture's introduction.
func (f *chanFixture) channel(t *testing.T) Channel {
	intro, err := channel.ParseOID(f.intro)
	if err != nil {
		t.Fatal(err)
	}
	var signer [20]byte
	hex.Decode(signer[:], []byte(f.alice))
	return Channel{Name: "guix", Policy: channel.Policy{Introduction: intro, Signer: signer, Keyring: "keyring"}, History: true, HistoryMax: 1000}
}

// memHeads is ChannelHeads over a map (the station test reads the real log).
type memHeads map[string]channel.OID

func (m memHeads) Heads() (map[string]channel.OID, error) { return m, nil }

// TestChannelBundleImport judges bundles of the fixture's channel in the sandboxed worker
// and in process: a bundle authentic under the pinned introduction and clean is approved on
// basis "channel" with its commit, tree and signer recorded; a tampered commit, a commit by
// an unauthorized key, a blob YARA matches, a fork and a rollback against the logged head are
// refused, each naming why.
func TestChannelBundleImport(t *testing.T) {
	f := newChanFixture(t)
	c2, _ := channel.ParseOID(f.c2)
	cases := []struct {
		bundle string
		heads  memHeads
		want   string // "" approved, else a piece of the reason
		rule   string
	}{
		{"c2", nil, "", ""},
		{"c2", memHeads{"guix": c2}, "", ""}, // the same commit again: forward (equal)
		{"tampered", nil, "invalid-signature", "invalid-signature"},
		{"evil", nil, "unauthorized-key", "unauthorized-key"},
		{"malware", nil, "guix.bundle!eicar.com: match: test:EICAR_test_file", ""},
		{"c1", memHeads{"guix": c2}, "rollback", "rollback"},
		{"fork", memHeads{"guix": c2}, "rollback", "rollback"},
		{"extra", nil, "refs/heads/evil at " + f.evil + ", neither the authenticated target", "extra-ref"},
	}
	for _, sandboxed := range []bool{true, false} {
		for _, tc := range cases {
			if sandboxed && (tc.heads != nil || tc.bundle != "c2" && tc.bundle != "malware") {
				// The authentication is the parent's in both; the worker reads the stick and
				// scans the blobs (c2, malware).
				continue
			}
			im := newTestImporter(t)
			im.Channels = []Channel{f.channel(t)}
			if tc.heads != nil {
				im.Heads = tc.heads
			}
			files := map[string][]byte{"guix.bundle": f.bundles[tc.bundle]}
			spool := t.TempDir()
			var dec *Decision
			var err error
			if sandboxed {
				im.Sandbox = &sandbox.Config{}
				dec, err = im.ReadDevice(context.Background(), fatImage(t, files), spool, nil)
			} else {
				dec, err = im.Read(context.Background(), fstest.MapFS{"guix.bundle": {Data: files["guix.bundle"]}}, spool, nil)
			}
			if err != nil {
				t.Fatalf("%s (sandboxed %v): %v", tc.bundle, sandboxed, err)
			}
			if len(dec.Files) != 1 || len(dec.Records) != 1 {
				t.Fatalf("%s: %d verdicts, %d records", tc.bundle, len(dec.Files), len(dec.Records))
			}
			fv, rec := dec.Files[0], dec.Records[0]
			why := strings.Join(fv.Reasons, "; ")
			if tc.want == "" {
				if !fv.Approved || why != "approved by channel" {
					t.Errorf("%s (sandboxed %v): approved=%v %s", tc.bundle, sandboxed, fv.Approved, why)
				}
				if rec.Type != RecordChannel || rec.Fields["verdict"] != "approved" || rec.Fields["commit"] != f.c2 ||
					rec.Fields["signer"] != f.alice || rec.Fields["channel"] != "guix" || rec.Fields["tree"] == "" {
					t.Errorf("%s: record %v", tc.bundle, rec.Fields)
				}
				// Every blob of the target, the keyring and the history was scanned.
				var rep struct {
					Files    []scanner.File  `json:"files"`
					Channels []channelReport `json:"channels"`
				}
				if err := json.Unmarshal(dec.Report, &rep); err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, x := range rep.Files {
					seen[x.Path] = x.Verdict == scanner.Clean
				}
				for _, p := range []string{"guix.bundle!hello.scm", "guix.bundle!.guix-authorizations", "guix.bundle!keyring:alice.key", "guix.bundle!keyring:mallory.key"} {
					if !seen[p] {
						t.Errorf("%s: %s not scanned clean in the report", tc.bundle, p)
					}
				}
				if len(rep.Channels) != 1 || rep.Channels[0].Commit != f.c2 || !rep.Channels[0].Approved || rep.Channels[0].Blobs < 5 {
					t.Errorf("report channels %+v", rep.Channels)
				}
				continue
			}
			if fv.Approved || !strings.Contains(why, tc.want) {
				t.Errorf("%s (sandboxed %v): approved=%v %q, want rejected for %q", tc.bundle, sandboxed, fv.Approved, why, tc.want)
			}
			if rec.Fields["verdict"] == "approved" || (tc.rule != "" && rec.Fields["rule"] != tc.rule) {
				t.Errorf("%s: record %v", tc.bundle, rec.Fields)
			}
		}
	}
}

// TestChannelBundleUnknownName: a bundle no channel names is judged as any file (here: not on
// an allowlist), and a file named as a channel's bundle that is not a bundle is refused.
func TestChannelBundleNotABundle(t *testing.T) {
	f := newChanFixture(t)
	im := newTestImporter(t)
	im.Channels = []Channel{f.channel(t)}
	dec, err := im.Read(context.Background(), fstest.MapFS{"guix.bundle": {Data: []byte("PACK not a bundle")},
		"other.bundle": {Data: f.bundles["c2"]}}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, fv := range dec.Files {
		why := strings.Join(fv.Reasons, "; ")
		if fv.Approved || (fv.Path == "guix.bundle" && !strings.Contains(why, "not a git bundle")) ||
			(fv.Path == "other.bundle" && !strings.Contains(why, "allowlist")) {
			t.Errorf("%s: approved=%v %s", fv.Path, fv.Approved, why)
		}
	}
}

// TestChannelFixtureGuixVerdicts: the station's verdicts on the fixture's bundles are the real
// `guix git authenticate` 1.5.0's on the same commits (the rollback and fork cases are
// airlock's own rule, checked above against the logged head).
func TestChannelFixtureGuixVerdicts(t *testing.T) {
	f := newChanFixture(t)
	g := testenv.GuixOracle(t)
	host, in := g.TempDir()
	if out, err := exec.Command("cp", "-a", f.dir, filepath.Join(host, "r")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	for _, tc := range []struct {
		end    string
		accept bool
		msg    string
	}{
		{f.c2, true, ""},
		{f.evil, false, "not signed by an authorized key"},
		{f.tampered, false, "signature"},
	} {
		out, err := g.Run(context.Background(), nil, "git", "authenticate", "--repository="+in+"/r", f.intro, f.alice,
			"--end="+tc.end, "--cache-key=airlock-station/"+tc.end, "-k", "keyring")
		var stderr string
		if ge, ok := err.(*testenv.GuixError); ok {
			stderr = ge.Stderr
		} else if err != nil {
			t.Fatal(err)
		}
		if (err == nil) != tc.accept || !strings.Contains(stderr, tc.msg) {
			t.Errorf("guix git authenticate --end=%s: %v %s %s; the station says accept=%v", tc.end, err, out, stderr, tc.accept)
		}
	}
}

// TestChannelBundleBounds: a channel whose blobs exceed the expansion bound or the history cap
// is refused as a limit, never approved unscanned.
func TestChannelBundleBounds(t *testing.T) {
	f := newChanFixture(t)
	for _, tc := range []struct {
		name string
		set  func(im *ScanImporter)
		want string
	}{
		{"expanded", func(im *ScanImporter) { im.Options.Limits.MaxExpanded = 64 }, "limits.max_expanded"},
		{"entries", func(im *ScanImporter) { im.Options.Limits.MaxEntries = 2 }, "limits.max_entries"},
		{"history", func(im *ScanImporter) { im.Channels[0].HistoryMax = 2 }, "history_max"},
	} {
		im := newTestImporter(t)
		im.Channels = []Channel{f.channel(t)}
		tc.set(im)
		dec, err := im.Read(context.Background(), fstest.MapFS{"guix.bundle": {Data: f.bundles["c2"]}}, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		why := strings.Join(dec.Files[0].Reasons, "; ")
		if dec.Files[0].Approved || !strings.Contains(why, "limit") || !strings.Contains(why, tc.want) {
			t.Errorf("%s: approved=%v %s", tc.name, dec.Files[0].Approved, why)
		}
	}
}

// TestLogHeads: the heads follow the log as it grows (a second stick in the same boot sees
// the first one's commit), only approved records count, and the last one wins.
func TestLogHeads(t *testing.T) {
	skey, _, err := note.GenerateKey(rand.Reader, "test-log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	l, err := auditlog.Open(t.TempDir(), signer)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	add := func(verdict, commit string) {
		if _, err := l.Append(context.Background(), map[string]any{"type": RecordChannel, "channel": "guix", "verdict": verdict, "commit": commit}); err != nil {
			t.Fatal(err)
		}
	}
	h := &LogHeads{Log: l}
	if m, err := h.Heads(); err != nil || len(m) != 0 {
		t.Fatalf("empty log: %v %v", m, err)
	}
	add("approved", a)
	l.Append(context.Background(), map[string]any{"type": "verdict", "verdict": "APPROVED"})
	if m, _ := h.Heads(); m["guix"].String() != a {
		t.Errorf("after one: %v", m)
	}
	add("refused", b)
	add("authenticated-not-clean", b)
	if m, _ := h.Heads(); m["guix"].String() != a {
		t.Errorf("a refusal moved the head: %v", m)
	}
	add("approved", b)
	if m, _ := h.Heads(); m["guix"].String() != b {
		t.Errorf("after two: %v", m)
	}
}
