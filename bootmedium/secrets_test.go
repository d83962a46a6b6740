package bootmedium

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/airlock-appliance/airlock/guix"
	"github.com/airlock-appliance/airlock/internal/testenv"
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

// keygen writes role's keys into a new folder with sealing.GenerateKeys, as airlock keygen does.
// Encrypting costs seconds (scrypt), so each (role, passphrase) is made once per test binary
// and copied.
func keygen(t *testing.T, role sealing.Role, pass string) string {
	t.Helper()
	keyCache.Lock()
	defer keyCache.Unlock()
	k := string(role) + "\x00" + pass
	src, ok := keyCache.dirs[k]
	if !ok {
		d, err := os.MkdirTemp("", "bootmedium-keys-")
		if err != nil {
			t.Fatal(err)
		}
		src = filepath.Join(d, "keys")
		if _, err := sealing.GenerateKeys(src, sealing.KeygenOptions{Role: role, Passphrase: pass, Guix: guixKeyGen}); err != nil {
			t.Fatal(err)
		}
		keyCache.dirs[k] = src
	}
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dir
}

var keyCache = struct {
	sync.Mutex
	dirs map[string]string
}{dirs: map[string]string{}}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range keyCache.dirs {
		os.RemoveAll(filepath.Dir(d))
	}
	os.Exit(code)
}

func classifyFile(t *testing.T, path string) Kind {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Classify(filepath.Base(path), b)
}

// TestClassifyKeygen: every file airlock keygen writes is classified as what it is, with and
// without a passphrase.
func TestClassifyKeygen(t *testing.T) {
	for _, tc := range []struct {
		role sealing.Role
		pass string
		want map[string]Kind
	}{
		{sealing.RoleAppliance, "", map[string]Kind{"seal.key": MinisignPlain, "log.key": NotePlain, "guix-signing-key.sec": GuixPlain,
			"seal.pub": NotSecret, "log.vkey": NotSecret, "guix-signing-key.pub": NotSecret}},
		{sealing.RoleAppliance, "correct horse", map[string]Kind{"seal.key": MinisignEncrypted, "log.key": NoteEncrypted,
			"guix-signing-key.sec": GuixPlain, "seal.pub": NotSecret, "log.vkey": NotSecret, "guix-signing-key.pub": NotSecret}},
		{sealing.RoleApprover, "", map[string]Kind{"approver.key": MinisignPlain, "approver.pub": NotSecret}},
		{sealing.RoleAuditor, "", map[string]Kind{"auditor.key": NotePlain, "auditor.vkey": NotSecret}},
	} {
		dir := keygen(t, tc.role, tc.pass)
		for f, want := range tc.want {
			if got := classifyFile(t, filepath.Join(dir, f)); got != want {
				t.Errorf("%s (passphrase %q): %v, want %v", f, tc.pass, got, want)
			}
		}
	}
}

// TestClassifyMinisignCLI: keys made by the stock minisign, with (-W: none) and without a
// password, and its public key and signature files.
func TestClassifyMinisignCLI(t *testing.T) {
	testenv.Need(t, "minisign")
	dir := t.TempDir()
	plainSec, plainPub := filepath.Join(dir, "plain.key"), filepath.Join(dir, "plain.pub")
	if b, err := exec.Command("minisign", "-G", "-W", "-s", plainSec, "-p", plainPub).CombinedOutput(); err != nil {
		t.Fatalf("minisign -G -W: %v\n%s", err, b)
	}
	encSec, encPub := filepath.Join(dir, "enc.key"), filepath.Join(dir, "enc.pub")
	cmd := exec.Command("minisign", "-G", "-s", encSec, "-p", encPub)
	cmd.Stdin = strings.NewReader("pass\npass\n")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -G: %v\n%s", err, b)
	}
	msg := filepath.Join(dir, "msg")
	os.WriteFile(msg, []byte("hello\n"), 0o644)
	if b, err := exec.Command("minisign", "-S", "-s", plainSec, "-m", msg).CombinedOutput(); err != nil {
		t.Fatalf("minisign -S: %v\n%s", err, b)
	}
	for path, want := range map[string]Kind{plainSec: MinisignPlain, encSec: MinisignEncrypted, plainPub: NotSecret,
		encPub: NotSecret, msg + ".minisig": NotSecret} {
		if got := classifyFile(t, path); got != want {
			t.Errorf("%s: %v, want %v", filepath.Base(path), got, want)
		}
	}
}

// TestCheck: a folder with a plaintext key is refused with every such key named; the same folder
// passes as a demo; an encrypted one passes; a renamed plaintext key and an unknown .sec are
// still found; a symbolic link is refused.
func TestCheck(t *testing.T) {
	plain := keygen(t, sealing.RoleApprover, "")
	enc := keygen(t, sealing.RoleAppliance, "correct horse")
	read := func(dir, f string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	site := fstest.MapFS{
		"policy.toml":   {Data: []byte("station = \"x\"\n")},
		"keys/seal.key": {Data: read(enc, "seal.key")},
		"keys/seal.pub": {Data: read(enc, "seal.pub")},
	}
	found, err := Check(site, "site", false)
	if err != nil || len(found) != 1 || found[0].Kind != MinisignEncrypted {
		t.Fatalf("encrypted site: %v, %v", found, err)
	}
	site["notes/backup.txt"] = &fstest.MapFile{Data: append([]byte("keep this:\n"), read(plain, "approver.key")...)}
	site["keys/other.sec"] = &fstest.MapFile{Data: []byte("something\n")}
	_, err = Check(site, "site", false)
	var re *RefusalError
	if !errors.As(err, &re) || !errors.Is(err, ErrPlaintextKey) {
		t.Fatalf("plaintext site: %v, want a RefusalError", err)
	}
	if len(re.Found) != 2 || re.Found[0].Path != "keys/other.sec" || re.Found[1].Path != "notes/backup.txt" {
		t.Errorf("refusal lists %v", re.Found)
	}
	if !strings.Contains(err.Error(), "site: plaintext secret key: keys/other.sec") {
		t.Errorf("error %q does not name the folder and file", err)
	}
	if _, err := Check(site, "site", true); err != nil {
		t.Errorf("demo: %v", err)
	}
	d := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(d, "policy.toml")); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(os.DirFS(d), d, true); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlink: %v", err)
	}
}

// TestBootMediumScriptRefuses: make boot-medium SITE=DIR stops before building anything when
// DIR holds a plaintext secret key, naming it; DEMO=1 gets past the check.
func TestBootMediumScriptRefuses(t *testing.T) {
	testenv.Need(t, "bash", "grub-mkimage", "xorriso", "mkfs.fat", "mmd", "mcopy")
	site := t.TempDir()
	os.WriteFile(filepath.Join(site, "policy.toml"), []byte("station = \"x\"\n"), 0o644)
	keys := keygen(t, sealing.RoleAppliance, "")
	os.Rename(keys, filepath.Join(site, "keys"))
	out := t.TempDir()
	cmd := exec.Command("bash", "scripts/boot-medium.sh")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "SITE="+site, "OUT="+out)
	b, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("boot-medium.sh accepted plaintext keys:\n%s", b)
	}
	for _, want := range []string{"keys/seal.key (minisign secret key, NOT encrypted)", "keys/log.key (note signer key, NOT encrypted)",
		"refusing " + site} {
		if !strings.Contains(string(b), want) {
			t.Errorf("output lacks %q:\n%s", want, b)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, "*.iso")); len(m) != 0 {
		t.Errorf("an image was written: %v", m)
	}
}

// FuzzClassify: any bytes are classified without panicking, and a file classified as holding no
// secret key is never one named .key or .sec.
func FuzzClassify(f *testing.F) {
	f.Add("seal.key", []byte("untrusted comment: minisign encrypted secret key\nRWQAAEIy\n"))
	f.Add("log.key", []byte("untrusted comment: airlock encrypted note key\nAAAA\n"))
	f.Add("x", []byte("PRIVATE+KEY+a+b+c"))
	f.Add("y.sec", []byte("(private-key (ecc))"))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		k := Classify(name, b)
		if k == NotSecret && (strings.HasSuffix(name, ".key") || strings.HasSuffix(name, ".sec")) {
			t.Fatalf("%q classified as not secret", name)
		}
		_ = k.String()
	})
}
