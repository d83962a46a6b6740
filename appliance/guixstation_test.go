package appliance

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/appliance/console"
	"github.com/airlock-appliance/airlock/appliance/policy"
	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/sealing"
)

func guixKeyGen(r io.Reader) (sec, pub []byte, err error) {
	k, err := guix.GenerateKey(r)
	if err != nil {
		return nil, nil, err
	}
	if sec, err = k.MarshalText(); err != nil {
		return nil, nil, err
	}
	pub, err = k.Public().MarshalText()
	return sec, pub, err
}

// guixSite is a station's policy directory: appliance keys, rules, the channel of the
// fixture and (with builders) a quorum of farm-a, farm-b and farm-c.
type guixSite struct {
	dir, log string
	pol      *policy.Policy
}

func newGuixSite(t *testing.T, f *chanFixture, q *quorumFix) *guixSite {
	dir := t.TempDir()
	if _, err := sealing.GenerateKeys(filepath.Join(dir, "keys"), sealing.KeygenOptions{Role: sealing.RoleAppliance, Guix: guixKeyGen}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "eicar.yar"), []byte(testRule), 0o644)
	src := `station = "guix-test"
modes = ["import"]
[keys]
dir = "keys"
[import]
yara_rules = ["eicar.yar"]
spool_dir = "spool"
resign_guix = true
[[import.channels]]
name = "guix"
introduction = "` + f.intro + `"
signer = "` + f.alice + `"
history = true
`
	if q != nil {
		os.MkdirAll(filepath.Join(dir, "b"), 0o755)
		for i, k := range []*guix.PrivateKey{q.keys[0], q.keys[1], q.farmC} {
			pub, _ := k.Public().MarshalText()
			os.WriteFile(filepath.Join(dir, "b", string(rune('a'+i))+".pub"), pub, 0o644)
		}
		src += `[import.quorum]
k = 2
builders = [ { name = "farm-a", key = "b/a.pub" }, { name = "farm-b", key = "b/b.pub" }, { name = "farm-c", key = "b/c.pub" } ]
`
	}
	src += `[sanitize]
after_import = "never"
[burn]
drive = "stdio:discs/"
[audit]
log_dir = "log"
`
	p := filepath.Join(dir, "policy.toml")
	os.WriteFile(p, []byte(src), 0o644)
	pol, err := policy.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(pol.Import.SpoolDir, 0o700)
	return &guixSite{dir: dir, log: pol.Audit.LogDir, pol: pol}
}

// importStick boots a station wired from the site's policy (as `airlock run` wires it: the
// sandboxed importer, the real sealer and audit log), imports one stick, a FAT image holding
// files, and stops the station. It returns the verdict line and the audit log's records.
func (s *guixSite) importStick(t *testing.T, files map[string][]byte) (string, []map[string]any) {
	t.Helper()
	w, err := Wire(s.pol, WireOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	img := fatImage(t, files)
	devs := &fakeDevices{ch: make(chan DeviceEvent)}
	w.Parts.Devices, w.Parts.Burner = devs, &fakeBurner{}
	out := &buf{}
	in := make(chan string)
	st := New(Config{Policy: s.pol, View: console.NewLineView(out, false)}, w.Parts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, in) }()
	waitLine := func(prefix string) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(l, prefix) {
					return l
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no line %q in:\n%s", prefix, out.String())
		return ""
	}
	waitLine("airlock: state READY")
	devs.ch <- DeviceEvent{Kind: DeviceAdded, ID: Identity{Dev: img, Bus: "usb", Serial: "AA0012345678", Size: 8 << 20, Removable: true}}
	waitLine("airlock: prompt operator:")
	in <- "alice"
	verdict := waitLine("airlock: verdict ")
	if strings.Contains(verdict, "APPROVED") {
		waitLine("airlock: state PASS")
	} else {
		waitLine("airlock: state FAIL")
	}
	cancel()
	<-done
	w.Close()
	// The log as the next boot reads it.
	b, err := os.ReadFile(filepath.Join(s.log, "records"))
	if err != nil {
		ents, _ := os.ReadDir(s.log)
		t.Fatalf("audit log: %v (%v)", err, ents)
	}
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	return verdict, recs
}

func lastOf(recs []map[string]any, typ string) map[string]any {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i]["type"] == typ {
			return recs[i]
		}
	}
	return nil
}

var (
	quorumOnce sync.Once
	quorumFx   *quorumFix
)

// TestStationChannelRollback boots the station twice on one audit log: a channel bundle is
// approved, sealed and burned, and its commit logged; after a reboot, a bundle of an older
// commit is refused as a rollback against the logged commit.
func TestStationChannelRollback(t *testing.T) {
	f := newChanFixture(t)
	site := newGuixSite(t, f, nil)

	verdict, recs := site.importStick(t, map[string][]byte{"guix.bundle": f.bundles["c2"]})
	ch := lastOf(recs, RecordChannel)
	if !strings.Contains(verdict, "APPROVED") || ch == nil || ch["verdict"] != "approved" || ch["commit"] != f.c2 || ch["signer"] != f.alice {
		t.Fatalf("first bundle: %s; channel record %v", verdict, ch)
	}
	if lastOf(recs, "seal") == nil || lastOf(recs, "readback") == nil {
		t.Errorf("approved bundle not sealed and burned: %v", recs)
	}

	verdict, recs = site.importStick(t, map[string][]byte{"guix.bundle": f.bundles["c1"]})
	ch = lastOf(recs, RecordChannel)
	if !strings.Contains(verdict, "REJECTED") || ch == nil || ch["rule"] != "rollback" || ch["last_authenticated"] != f.c2 {
		t.Fatalf("rollback after a reboot: %s; channel record %v", verdict, ch)
	}
}

// TestStationQuorum: exports of two real guix-daemons reach the quorum at the station; the
// disc is sealed over the re-signed carrier (the sealer refuses any other bytes) and each
// builder's vote is in the log.
func TestStationQuorum(t *testing.T) {
	f := newChanFixture(t)
	q := sharedQuorumFix(t)
	site := newGuixSite(t, f, q)
	verdict, recs := site.importStick(t, map[string][]byte{"a.export": q.exports[0], "b.export": q.exports[1]})
	qr := lastOf(recs, RecordQuorum)
	js, _ := json.Marshal(qr)
	if !strings.Contains(verdict, "APPROVED 1 approved 0 rejected") || qr == nil || qr["verdict"] != "approved" ||
		!strings.Contains(string(js), `"builder":"farm-a"`) || !strings.Contains(string(js), `"builder":"farm-b"`) {
		t.Fatalf("quorum: %s; record %s", verdict, js)
	}
	v := lastOf(recs, "verdict")
	files, _ := json.Marshal(v["files"])
	if !strings.Contains(string(files), "re-signed with the appliance") || lastOf(recs, "readback") == nil {
		t.Errorf("quorum verdict files %s", files)
	}
}
