package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/guix"
)

// quorumSetup writes three builders' exports of one two-item closure (NARs made with
// guix.DumpPath from real directories, signed by each builder's key), farm-c's with a
// different app, an outsider's, farm-b's narinfo of app, and the builder list.
type quorumSetup struct {
	dir, builders           string
	a, b, c, outsider, binf string
	app, lib                string
	goodHash, badHash       string
}

func newQuorumSetup(t *testing.T) *quorumSetup {
	t.Helper()
	s := &quorumSetup{dir: t.TempDir()}
	s.lib = "/gnu/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-libfoo-1.0"
	s.app = "/gnu/store/1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b-app-2.0"
	dump := func(files map[string]string) []byte {
		d := t.TempDir()
		for name, data := range files {
			p := filepath.Join(d, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		if err := guix.DumpPath(&b, d); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	narLib := dump(map[string]string{"lib/libfoo.so": "\x7fELF libfoo"})
	narApp := dump(map[string]string{"bin/app": "#!" + s.lib + "/lib/libfoo.so\n"})
	badApp := dump(map[string]string{"bin/app": "#!" + s.lib + "/lib/libfoo.so\n# built Thu Dec 3\n"})
	h, bh := sha256.Sum256(narApp), sha256.Sum256(badApp)
	s.goodHash, s.badHash = "sha256:"+guix.EncodeBase32(h[:]), "sha256:"+guix.EncodeBase32(bh[:])
	var bs []guix.Builder
	var keys []*guix.PrivateKey
	for i, name := range []string{"farm-a", "farm-b", "farm-c", "outsider"} {
		k, err := guix.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		if i < 3 {
			bs = append(bs, guix.Builder{Name: name, Key: k.Public()})
		}
	}
	s.builders = filepath.Join(s.dir, "builders")
	os.WriteFile(s.builders, guix.MarshalBuilders(bs), 0o644)
	write := func(name string, key *guix.PrivateKey, app []byte) string {
		var b bytes.Buffer
		ew := guix.NewExportWriter(&b, key)
		ew.AddBytes(narLib, s.lib, nil, "")
		ew.AddBytes(app, s.app, []string{s.lib}, "")
		if err := ew.Close(); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(s.dir, name)
		os.WriteFile(p, b.Bytes(), 0o644)
		return p
	}
	s.a, s.b = write("a.export", keys[0], narApp), write("b.export", keys[1], narApp)
	s.c, s.outsider = write("c.export", keys[2], badApp), write("x.export", keys[3], narApp)
	ni, err := guix.MarshalNarinfo(&guix.Narinfo{StorePath: s.app, URLs: []string{"nar/app"}, Compressions: []string{"none"},
		NARHash: h, NARSize: int64(len(narApp)), References: []string{s.lib}}, "farm-b", keys[1])
	if err != nil {
		t.Fatal(err)
	}
	s.binf = filepath.Join(s.dir, "app.narinfo")
	os.WriteFile(s.binf, ni, 0o644)
	return s
}

func TestGuixQuorum(t *testing.T) {
	s := newQuorumSetup(t)
	// 2 of 3 agree (flags after the inputs, as elsewhere): exit 0.
	out, errOut, code := runCLI(t, "guix", "quorum", s.a, s.b, "--builders", s.builders, "--k", "2")
	if code != exitOK || !strings.Contains(out, s.app+": approved (k=2, vouched by 2: farm-a, farm-b)") || !strings.Contains(out, "ACCEPT") {
		t.Fatalf("2 of 3: exit %d\n%s%s", code, out, errOut)
	}
	// farm-c's app differs: a mismatch naming both builders and both hashes, whatever k.
	for _, k := range []string{"1", "2"} {
		out, errOut, code = runCLI(t, "guix", "quorum", "--builders", s.builders, "--k", k, s.a, s.b, s.c)
		if code != exitVerdict || !strings.Contains(out, s.app+": mismatch") || !strings.Contains(out, "farm-a: "+s.goodHash) ||
			!strings.Contains(out, "farm-c: "+s.badHash) || !strings.Contains(out, s.lib+": approved") {
			t.Fatalf("k=%s mismatch: exit %d\n%s%s", k, code, out, errOut)
		}
	}
	// The outsider does not count; farm-a twice counts once.
	for name, in := range map[string][]string{"outsider": {s.a, s.outsider}, "duplicate": {s.a, s.a}} {
		out, errOut, code = runCLI(t, append([]string{"guix", "quorum", "--builders", s.builders, "--k", "2"}, in...)...)
		if code != exitVerdict || !strings.Contains(out, s.app+": no-quorum (k=2, vouched by 1: farm-a)") {
			t.Fatalf("%s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	// farm-b's narinfo vouches for app; lib then lacks its second builder unless k=1 for it.
	out, errOut, code = runCLI(t, "guix", "quorum", "--builders", s.builders, "--k", "2", "--rule", "libfoo-*=1", s.a, s.binf)
	if code != exitOK {
		t.Fatalf("narinfo: exit %d\n%s%s", code, out, errOut)
	}
	// --out: the approved closure, re-signed by the appliance's key, verifies under that key alone.
	appKey, _ := guix.GenerateKey(rand.Reader)
	keyText, _ := appKey.MarshalText()
	keyFile, aclFile, outFile := filepath.Join(s.dir, "app.sec"), filepath.Join(s.dir, "app.acl"), filepath.Join(s.dir, "out.export")
	aclText, _ := guix.NewACL(appKey.Public()).MarshalText()
	os.WriteFile(keyFile, keyText, 0o600)
	os.WriteFile(aclFile, aclText, 0o644)
	if out, errOut, code := runCLI(t, "guix", "quorum", "--builders", s.builders, "--k", "2", "--key", keyFile, "--out", outFile, s.a, s.b); code != exitOK {
		t.Fatalf("--out: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, "guix", "verify", "--acl", aclFile, outFile); code != exitOK || strings.Count(out, ": valid") != 2 {
		t.Fatalf("verify of the written export: exit %d\n%s%s", code, out, errOut)
	}
	// Not written when an item is rejected.
	os.Remove(outFile)
	if _, _, code := runCLI(t, "guix", "quorum", "--builders", s.builders, "--k", "2", "--key", keyFile, "--out", outFile, s.a, s.c); code != exitVerdict {
		t.Fatalf("--out with a mismatch: exit %d", code)
	}
	if _, err := os.Stat(outFile); err == nil {
		t.Fatal("written although an item was rejected")
	}
	// JSON: per item who vouched, k and the verdict.
	out, _, code = runCLI(t, "guix", "quorum", "--json", "--builders", s.builders, "--k", "3", s.a, s.b)
	var rep guix.QuorumReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitVerdict || len(rep.Items) != 2 ||
		rep.Items[1].Verdict != guix.QuorumShort || rep.Items[1].K != 3 || len(rep.Items[1].Vouchers) != 2 || rep.Accept {
		t.Fatalf("json: %v exit %d\n%s", err, code, out)
	}
}

func TestGuixQuorumErrors(t *testing.T) {
	s := newQuorumSetup(t)
	garbage := filepath.Join(s.dir, "garbage")
	os.WriteFile(garbage, []byte("hello, world\n"), 0o644)
	for name, args := range map[string][]string{
		"no builders":   {"guix", "quorum", "--k", "1", s.a},
		"no k":          {"guix", "quorum", "--builders", s.builders, s.a},
		"k too large":   {"guix", "quorum", "--builders", s.builders, "--k", "4", s.a},
		"bad rule":      {"guix", "quorum", "--builders", s.builders, "--k", "1", "--rule", "x", s.a},
		"no input":      {"guix", "quorum", "--builders", s.builders, "--k", "1"},
		"missing input": {"guix", "quorum", "--builders", s.builders, "--k", "1", filepath.Join(s.dir, "nope")},
		"not an input":  {"guix", "quorum", "--builders", s.builders, "--k", "1", garbage},
		"bad builders":  {"guix", "quorum", "--builders", s.a, "--k", "1", s.a},
		"out no key":    {"guix", "quorum", "--builders", s.builders, "--k", "1", "--out", filepath.Join(s.dir, "o"), s.a},
	} {
		if _, errOut, code := runCLI(t, args...); code != exitError || errOut == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errOut)
		}
	}
	// A broken export is a verdict (exit 1), not an error.
	b, _ := os.ReadFile(s.b)
	trunc := filepath.Join(s.dir, "trunc.export")
	os.WriteFile(trunc, b[:len(b)-8], 0o644)
	if out, _, code := runCLI(t, "guix", "quorum", "--builders", s.builders, "--k", "2", s.a, trunc); code != exitVerdict || !strings.Contains(out, "counts for nothing") {
		t.Errorf("truncated export: exit %d\n%s", code, out)
	}
	if out, _, code := runCLI(t, "guix", "quorum", "--help"); code != exitOK || !strings.HasPrefix(out, "Usage: airlock guix quorum") {
		t.Errorf("--help: exit %d %q", code, out)
	}
}
