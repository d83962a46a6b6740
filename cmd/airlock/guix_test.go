package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// TestGuixVerifyVectors runs `airlock guix verify` on every export of the vectors with both
// ACLs and checks the exit status, the per-item lines and the JSON against expected.json.
func TestGuixVerifyVectors(t *testing.T) {
	dir := testenv.GuixVectors(t)
	var exp struct {
		ACLFiles map[string]string `json:"acl_files"`
		Files    map[string]struct {
			Results map[string]struct {
				Items []struct {
					StorePath *string `json:"store_path"`
					Outcome   string  `json:"outcome"`
				} `json:"items"`
				Stream  string `json:"stream"`
				Overall string `json:"overall"`
			} `json:"results"`
		} `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	for name, f := range exp.Files {
		for aclName, want := range f.Results {
			file := filepath.Join(dir, name)
			acl := filepath.Join(dir, exp.ACLFiles[aclName])
			out, errOut, code := runCLI(t, "guix", "verify", "--acl", acl, file)
			wantCode := exitVerdict
			if want.Overall == "ACCEPT" {
				wantCode = exitOK
			}
			if code != wantCode {
				t.Errorf("%s/%s: exit %d, want %d\n%s%s", name, aclName, code, wantCode, out, errOut)
			}
			for i, it := range want.Items {
				path := "item " + string(rune('0'+i))
				if it.StorePath != nil {
					path = *it.StorePath
				}
				line := file + ": " + path + ": " + it.Outcome
				if !strings.Contains(out, line+"\n") && !strings.Contains(out, line+" (") {
					t.Errorf("%s/%s: no line %q in\n%s", name, aclName, line, out)
				}
			}
			if !strings.HasSuffix(out, file+": "+want.Overall+"\n") {
				t.Errorf("%s/%s: output does not end with the verdict:\n%s", name, aclName, out)
			}
			if want.Overall == "REJECT" && !strings.Contains(errOut, file+": rejected: ") {
				t.Errorf("%s/%s: stderr does not give the reason: %q", name, aclName, errOut)
			}
			// JSON gives the same verdicts.
			jout, _, jcode := runCLI(t, "guix", "verify", "--json", "--acl", acl, file)
			var reps []jsonReport
			var rep jsonReport
			err := json.Unmarshal([]byte(jout), &rep) // one EXPORT: one JSON line
			reps = append(reps, rep)
			if err != nil || jcode != code || strings.Count(jout, "\n") != 1 {
				t.Fatalf("%s/%s: --json: exit %d, %v\n%s", name, aclName, jcode, err, jout)
			}
			if reps[0].Overall != want.Overall || reps[0].Stream != want.Stream || len(reps[0].Items) != len(want.Items) {
				t.Errorf("%s/%s: JSON %+v", name, aclName, reps[0])
			}
			for i := range reps[0].Items {
				if i < len(want.Items) && reps[0].Items[i].Outcome != want.Items[i].Outcome {
					t.Errorf("%s/%s: JSON item %d %s, want %s", name, aclName, i, reps[0].Items[i].Outcome, want.Items[i].Outcome)
				}
			}
		}
	}
	// Several files at once: exit 0 only if all are accepted.
	if _, _, code := runCLI(t, "guix", "verify", "--acl", filepath.Join(dir, "two-acl"),
		filepath.Join(dir, "bundle.export"), filepath.Join(dir, "p2-only.export")); code != exitOK {
		t.Errorf("two good files: exit %d", code)
	}
	if _, _, code := runCLI(t, "guix", "verify", "--acl", filepath.Join(dir, "two-acl"),
		filepath.Join(dir, "bundle.export"), filepath.Join(dir, "unsigned.export")); code != exitVerdict {
		t.Errorf("good and bad file: exit %d", code)
	}
}

func TestGuixVerifyPresentAndErrors(t *testing.T) {
	dir := testenv.GuixVectors(t)
	acl := filepath.Join(dir, "two-acl")
	present := filepath.Join(t.TempDir(), "present")
	os.WriteFile(present, []byte("# on the high side\n/gnu/store/hfj39pdgk5syajdqf8w4ibp7766cfsv3-quux-checkout\n/gnu/store/z5nff46ps7zhhda3cv8cqc5zldnpg1rz-quux-3.1.tar.xz\n"), 0o644)
	if out, errOut, code := runCLI(t, "guix", "verify", "--acl", acl, "--present", present, filepath.Join(dir, "partial-closure.export")); code != exitOK {
		t.Errorf("partial closure with present list: exit %d\n%s%s", code, out, errOut)
	}
	for name, args := range map[string][]string{
		"no acl":          {"guix", "verify", filepath.Join(dir, "bundle.export")},
		"missing file":    {"guix", "verify", "--acl", acl, filepath.Join(dir, "no-such.export")},
		"bad acl":         {"guix", "verify", "--acl", filepath.Join(dir, "p2.nar"), filepath.Join(dir, "bundle.export")},
		"no subcommand":   {"guix"},
		"bad subcommand":  {"guix", "frob"},
		"sign no key":     {"guix", "sign", filepath.Join(dir, "bundle.export")},
		"sign public key": {"guix", "sign", "--key", filepath.Join(dir, "keys/signer1/signing-key.pub"), filepath.Join(dir, "bundle.export")},
		"hash dir flat":   {"guix", "hash", dir},
		"hash missing":    {"guix", "hash", filepath.Join(dir, "nope")},
		"ls missing":      {"guix", "ls", filepath.Join(dir, "nope")},
	} {
		if _, errOut, code := runCLI(t, args...); code != exitError || errOut == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errOut)
		}
	}
	for _, sub := range []string{"verify", "sign", "ls", "hash"} {
		if out, _, code := runCLI(t, "guix", sub, "--help"); code != exitOK || !strings.HasPrefix(out, "Usage: airlock guix "+sub) {
			t.Errorf("guix %s --help: exit %d %q", sub, code, out)
		}
	}
}

// TestGuixSign re-signs the bundle with a fresh key (written in Guix's format) and verifies the
// result with an ACL holding only that key; a truncated input is refused with exit 1 and
// --out is removed.
func TestGuixSign(t *testing.T) {
	dir := testenv.GuixVectors(t)
	tmp := t.TempDir()
	key, err := guix.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := key.MarshalText()
	aclText, _ := guix.NewACL(key.Public()).MarshalText()
	keyFile, aclFile := filepath.Join(tmp, "guix-signing-key.sec"), filepath.Join(tmp, "acl")
	os.WriteFile(keyFile, sec, 0o600)
	os.WriteFile(aclFile, aclText, 0o644)

	out, errOut, code := runCLI(t, "guix", "sign", "--key", keyFile, filepath.Join(dir, "bundle.export"))
	if code != exitOK {
		t.Fatalf("sign: exit %d %s", code, errOut)
	}
	signed := filepath.Join(tmp, "signed.export")
	os.WriteFile(signed, []byte(out), 0o644)
	if vout, _, code := runCLI(t, "guix", "verify", "--acl", aclFile, signed); code != exitOK || strings.Count(vout, ": valid\n") != 4 {
		t.Errorf("verify re-signed: exit %d\n%s", code, vout)
	}
	if _, _, code := runCLI(t, "guix", "verify", "--acl", filepath.Join(dir, "two-acl"), signed); code != exitVerdict {
		t.Errorf("re-signed under the old ACL: exit %d", code)
	}
	// --out writes the same bytes.
	outFile := filepath.Join(tmp, "out.export")
	if _, errOut, code := runCLI(t, "guix", "sign", "--key", keyFile, "--out", outFile, filepath.Join(dir, "bundle.export")); code != exitOK {
		t.Fatalf("sign --out: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(outFile); !bytes.Equal(b, []byte(out)) {
		t.Error("--out differs from stdout")
	}
	badOut := filepath.Join(tmp, "bad.export")
	_, errOut, code = runCLI(t, "guix", "sign", "--key", keyFile, "--out", badOut, filepath.Join(dir, "truncated.export"))
	if code != exitVerdict || !strings.Contains(errOut, "truncated") {
		t.Errorf("sign truncated: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(badOut); !os.IsNotExist(err) {
		t.Errorf("partial output left behind: %v", err)
	}
	if _, errOut, code := runCLI(t, "guix", "sign", "--key", keyFile, filepath.Join(dir, "trailing-garbage.export")); code != exitVerdict || !strings.Contains(errOut, "trailing") {
		t.Errorf("sign trailing-garbage: exit %d %q", code, errOut)
	}
}

func TestGuixLs(t *testing.T) {
	dir := testenv.GuixVectors(t)
	out, errOut, code := runCLI(t, "guix", "ls", filepath.Join(dir, "bundle.export"))
	if code != exitOK {
		t.Fatalf("ls bundle: %d %s", code, errOut)
	}
	for _, want := range []string{
		"/gnu/store/hfj39pdgk5syajdqf8w4ibp7766cfsv3-quux-checkout\tnar 3158520 bytes sha256:1h2gb46jkvhkn1jrry1ncz2y7y9d0gwyz3ix98i8r32w4kwfgn7a\tsigned\n",
		"\treference /gnu/store/8rrygikrlqz4hg7v9wgxim66n11kx379-quux-3.1\n",
		"\tderiver /gnu/store/kdq79n2qlymynrwqs21impv27976y1s1-quux-3.1.drv\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ls bundle lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "guix", "ls", filepath.Join(dir, "p1.nar"))
	if code != exitOK || !strings.Contains(out, " 3145728 sha256:") || !strings.Contains(out, "/tests/data/random.bin\n") ||
		!strings.Contains(out, "/doc/README -> ../README\n") || !strings.Contains(out, "-r-xr-xr-x") {
		t.Errorf("ls p1.nar: exit %d\n%s", code, out)
	}
	// The listed hash of random.bin is the nix-base32 of its known SHA-256.
	want := "71179cf0b1bf240368b4f166a52b17204f3e11b4df6ed65ceec032a449181f86"
	if !strings.Contains(out, "sha256:"+nix32Hex(t, want)+" /tests/data/random.bin") {
		t.Errorf("random.bin hash not listed")
	}
	// Malformed and truncated files: exit 1 with the reason.
	for name, wantErr := range map[string]string{"truncated.export": "truncated", "quux-3.1.tar.xz": "neither", "trailing-garbage.export": "trailing"} {
		_, errOut, code := runCLI(t, "guix", "ls", filepath.Join(dir, name))
		if code != exitVerdict || !strings.Contains(errOut, wantErr) || !strings.Contains(errOut, name) {
			t.Errorf("ls %s: exit %d %q", name, code, errOut)
		}
	}
	nar, _ := os.ReadFile(filepath.Join(dir, "p4.nar"))
	bad := filepath.Join(t.TempDir(), "bad.nar")
	os.WriteFile(bad, append(nar, 0), 0o644)
	if _, errOut, code := runCLI(t, "guix", "ls", bad); code != exitVerdict || !strings.Contains(errOut, "trailing bytes") {
		t.Errorf("ls NAR with trailing byte: exit %d %q", code, errOut)
	}
}

func nix32Hex(t *testing.T, hx string) string {
	b := make([]byte, len(hx)/2)
	for i := range b {
		var v byte
		for _, c := range hx[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		b[i] = v
	}
	return guix.EncodeBase32(b)
}

// TestGuixHash compares `airlock guix hash` with nix-hash (which prints what `guix hash` prints)
// for a file (flat) and for trees (-S nar), including a tree restored from the vectors' P1.
func TestGuixHash(t *testing.T) {
	testenv.Need(t, "nix-hash", "nix-store")
	dir := testenv.GuixVectors(t)
	tarball := filepath.Join(dir, "quux-3.1.tar.xz")
	out, _, code := runCLI(t, "guix", "hash", tarball)
	if code != exitOK || out != "01kc1fg4r4a7q6lx8ahnj79572g06a7pl5pbh6lsc2xs86m6vnkv\n" {
		t.Errorf("guix hash tarball: %d %q", code, out)
	}
	peer, err := exec.Command("nix-hash", "--type", "sha256", "--flat", "--base32", tarball).Output()
	if err != nil || string(peer) != out {
		t.Errorf("nix-hash --flat: %q, %v", peer, err)
	}
	if hx, _, _ := runCLI(t, "guix", "hash", "-f", "hex", tarball); hx != "7bda6daa41ba0ba6a981eb167a8f32e08953d291162ad4a9c147914c9e0b6c06\n" {
		t.Errorf("hex: %q", hx)
	}
	// Several files: one line each; "-" is stdin.
	tb, _ := os.ReadFile(tarball)
	var sout bytes.Buffer
	code = dispatch(context.Background(), &env{stdin: bytes.NewReader(tb), stdout: &sout, stderr: io.Discard}, []string{"guix", "hash", tarball, "-"})
	if code != exitOK || sout.String() != strings.Repeat("01kc1fg4r4a7q6lx8ahnj79572g06a7pl5pbh6lsc2xs86m6vnkv\n", 2) {
		t.Errorf("file and stdin: %d %q", code, sout.String())
	}
	if _, _, code := runCLI(t, "guix", "hash", "-H", "sha512", tarball); code != exitError {
		t.Errorf("-H sha512: exit %d", code)
	}
	// P1 restored from its NAR: -S nar must give the NAR hash the manifest records.
	p1 := filepath.Join(t.TempDir(), "quux-checkout")
	nar, _ := os.ReadFile(filepath.Join(dir, "p1.nar"))
	cmd := exec.Command("nix-store", "--restore", p1)
	cmd.Stdin = bytes.NewReader(nar)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nix-store --restore: %v %s", err, o)
	}
	out, _, code = runCLI(t, "guix", "hash", "-S", "nar", p1)
	if code != exitOK || out != "1h2gb46jkvhkn1jrry1ncz2y7y9d0gwyz3ix98i8r32w4kwfgn7a\n" {
		t.Errorf("guix hash -S nar P1: %d %q", code, out)
	}
	if r, _, _ := runCLI(t, "guix", "hash", "-r", p1); r != out {
		t.Errorf("-r differs from -S nar: %q", r)
	}
	// A tree made here, against nix-hash and against sha256 of nix-store --dump.
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "src/deep"), 0o755)
	os.WriteFile(filepath.Join(tree, "src/deep/a.c"), []byte("int main(){}\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "configure"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("src/deep/a.c", filepath.Join(tree, "link"))
	out, _, _ = runCLI(t, "guix", "hash", "-S", "nar", tree)
	peer, err = exec.Command("nix-hash", "--type", "sha256", "--base32", tree).Output()
	if err != nil || string(peer) != out {
		t.Errorf("tree: ours %q, nix-hash %q (%v)", out, peer, err)
	}
	dump, err := exec.Command("nix-store", "--dump", tree).Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(dump)
	if guix.EncodeBase32(sum[:])+"\n" != out {
		t.Errorf("tree: ours %q, sha256(nix-store --dump) %x", out, sum)
	}
}

// TestGuixACLCommand: acl add writes the file guix archive --authorize writes (the vectors'
// one-acl), in Guix's order, list shows the keys, remove takes one out.
func TestGuixACLCommand(t *testing.T) {
	vec := testenv.GuixVectors(t)
	acl := filepath.Join(t.TempDir(), "acl")
	s1, s2 := filepath.Join(vec, "keys/signer1/signing-key.pub"), filepath.Join(vec, "keys/signer2/signing-key.pub")
	if _, stderr, code := runCLI(t, "guix", "acl", "add", "--acl", acl, s1); code != exitOK {
		t.Fatalf("acl add: %d %s", code, stderr)
	}
	got, _ := os.ReadFile(acl)
	want, _ := os.ReadFile(filepath.Join(vec, "one-acl"))
	if !bytes.Equal(got, want) {
		t.Fatalf("acl add wrote\n%s\nwant one-acl\n%s", got, want)
	}
	runCLI(t, "guix", "acl", "add", s2, "--acl", acl)
	out, _, code := runCLI(t, "guix", "acl", "list", "--acl", acl)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], "ed25519 a242") || !strings.HasPrefix(lines[1], "ed25519 1d48") {
		t.Fatalf("acl list (signer2 first, as Guix orders): %d %q", code, out)
	}
	if _, _, code := runCLI(t, "guix", "acl", "remove", "--acl", acl, s2); code != exitOK {
		t.Fatal("acl remove failed")
	}
	if got, _ := os.ReadFile(acl); !bytes.Equal(got, want) {
		t.Fatalf("after removing signer2:\n%s", got)
	}
	if _, stderr, code := runCLI(t, "guix", "acl", "list", "--acl", "/nonexist"); code != exitError || !strings.Contains(stderr, "--acl /nonexist: no such file") {
		t.Fatalf("list of a missing ACL: %d %q", code, stderr)
	}
}
