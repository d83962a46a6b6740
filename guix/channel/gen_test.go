package channel

import (
	"bytes"
	"compress/zlib"
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// genSigner is an Ed25519 OpenPGP v4 key made without gpg, for channels of tens of thousands
// of signed commits (gpg would take an hour to sign them).
type genSigner struct {
	priv ed25519.PrivateKey
	body []byte // public key packet body
	fpr  [20]byte
}

func newGenSigner(seed byte) *genSigner {
	s := &genSigner{priv: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))}
	pub := s.priv.Public().(ed25519.PublicKey)
	b := []byte{4, 0x5e, 0, 0, 0, 22, 9}
	b = append(b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01)
	b = append(b, 0x01, 0x07, 0x40)
	s.body = append(b, pub...)
	h := sha1.New()
	h.Write([]byte{0x99, byte(len(s.body) >> 8), byte(len(s.body))})
	h.Write(s.body)
	copy(s.fpr[:], h.Sum(nil))
	return s
}

// keyFile is a binary transferable public key: key packet and user id (Guix reads no more).
func (s *genSigner) keyFile(name string) []byte {
	out := []byte{0xc6, byte(len(s.body))}
	out = append(out, s.body...)
	out = append(out, 0xcd, byte(len(name)))
	return append(out, name...)
}

func mpi(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	bits := len(b) * 8
	if len(b) > 0 {
		for c := b[0]; c&0x80 == 0; c <<= 1 {
			bits--
		}
	}
	return append([]byte{byte(bits >> 8), byte(bits)}, b...)
}

func armor(kind string, data []byte) string {
	var sb strings.Builder
	sb.WriteString("-----BEGIN " + kind + "-----\n\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 64 {
		sb.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	c := crc24(data)
	sb.WriteString(enc + "\n=" + base64.StdEncoding.EncodeToString([]byte{byte(c >> 16), byte(c >> 8), byte(c)}) + "\n-----END " + kind + "-----\n")
	return sb.String()
}

func crc24(b []byte) uint32 {
	crc := uint32(0xb704ce)
	for _, c := range b {
		crc ^= uint32(c) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864cfb
			}
		}
	}
	return crc & 0xffffff
}

// sign returns an armored v4 binary SHA-256 signature of data.
func (s *genSigner) sign(data []byte, when uint32) string {
	hashed := []byte{22, 33, 4}
	hashed = append(hashed, s.fpr[:]...)
	hashed = append(hashed, 5, 2, byte(when>>24), byte(when>>16), byte(when>>8), byte(when))
	n := len(hashed)
	trailer := append([]byte{4, 0, 22, 8, byte(n >> 8), byte(n)}, hashed...)
	h := sha256.New()
	h.Write(data)
	h.Write(trailer)
	h.Write([]byte{4, 0xff, byte((n + 6) >> 24), byte((n + 6) >> 16), byte((n + 6) >> 8), byte(n + 6)})
	digest := h.Sum(nil)
	sig := ed25519.Sign(s.priv, digest)
	unhashed := append([]byte{9, 16}, s.fpr[12:]...)
	body := append([]byte{}, trailer...)
	body = append(body, 0, byte(len(unhashed)))
	body = append(body, unhashed...)
	body = append(body, digest[0], digest[1])
	body = append(body, mpi(sig[:32])...)
	body = append(body, mpi(sig[32:])...)
	pkt := append([]byte{0xc2, byte(len(body))}, body...)
	return armor("PGP SIGNATURE", pkt)
}

// genRepo writes objects as one undeltified pack indexed by git index-pack.
type genRepo struct {
	t    *testing.T
	dir  string // git directory (bare)
	pack bytes.Buffer
	n    uint32
	seen map[[20]byte]bool
}

func (g *genRepo) put(typ int, data []byte) string {
	names := map[int]string{1: "commit", 2: "tree", 3: "blob"}
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", names[typ], len(data))
	h.Write(data)
	var id [20]byte
	copy(id[:], h.Sum(nil))
	if g.seen[id] {
		return hex.EncodeToString(id[:])
	}
	g.seen[id] = true
	size := len(data)
	c := byte(typ<<4) | byte(size&15)
	size >>= 4
	for size > 0 {
		g.pack.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	g.pack.WriteByte(c)
	zw, _ := zlib.NewWriterLevel(&g.pack, zlib.BestSpeed)
	zw.Write(data)
	zw.Close()
	g.n++
	return hex.EncodeToString(id[:])
}

type genEntry struct {
	mode, name, oid string
}

func (g *genRepo) tree(entries []genEntry) string {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var b bytes.Buffer
	for _, e := range entries {
		raw, _ := hex.DecodeString(e.oid)
		fmt.Fprintf(&b, "%s %s\x00", e.mode, e.name)
		b.Write(raw)
	}
	return g.put(2, b.Bytes())
}

func (g *genRepo) commit(tree string, parents []string, s *genSigner, when uint32, msg string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "tree %s\n", tree)
	for _, p := range parents {
		fmt.Fprintf(&b, "parent %s\n", p)
	}
	fmt.Fprintf(&b, "author g <g@example.org> %d +0000\ncommitter g <g@example.org> %d +0000\n", when, when)
	head := b.Bytes()
	payload := append(append([]byte{}, head...), []byte("\n"+msg+"\n")...)
	if s == nil {
		return g.put(1, payload)
	}
	sig := s.sign(payload, when)
	var c bytes.Buffer
	c.Write(head)
	lines := strings.Split(strings.TrimSuffix(sig, "\n"), "\n")
	c.WriteString("gpgsig " + lines[0] + "\n")
	for _, l := range lines[1:] {
		c.WriteString(" " + l + "\n")
	}
	c.WriteString("\n" + msg + "\n")
	return g.put(1, c.Bytes())
}

// genChannel makes a bare repository of about commits signed commits by five signers, with a
// merge every 50 commits, a keyring branch and main. It returns the directory, the
// introduction, its signer's fingerprint and main's commit.
func genChannel(t testing.TB, dir string, commits int) (repo, intro, signer, head string) {
	tt, _ := t.(*testing.T)
	g := &genRepo{t: tt, dir: dir, seen: map[[20]byte]bool{}}
	signers := make([]*genSigner, 5)
	var keys []genEntry
	var az strings.Builder
	az.WriteString("(authorizations (version 0) (")
	for i := range signers {
		signers[i] = newGenSigner(byte(i + 1))
		name := fmt.Sprintf("signer%d", i)
		keys = append(keys, genEntry{"100644", name + ".key", g.put(3, signers[i].keyFile(name))})
		fmt.Fprintf(&az, "(%q (name %q))\n", hex.EncodeToString(signers[i].fpr[:]), name)
	}
	az.WriteString("))\n")
	keyring := g.commit(g.tree(keys), nil, nil, 1600000000, "keyring")
	authz := g.put(3, []byte(az.String()))
	sub := g.tree([]genEntry{{"100644", "README", g.put(3, []byte("gnu\n"))}})
	when := uint32(1600000000)
	mk := func(parents []string, i int, s *genSigner) string {
		when++
		f := g.put(3, []byte(fmt.Sprintf("file %d\n", i)))
		tree := g.tree([]genEntry{{"100644", ".guix-authorizations", authz}, {"100644", "f", f}, {"40000", "gnu", sub}})
		return g.commit(tree, parents, s, when, fmt.Sprintf("commit %d", i))
	}
	intro = mk(nil, 0, signers[0])
	head = intro
	for i := 1; i < commits; {
		if i%50 == 0 && i+4 < commits {
			side := head
			for k := 0; k < 3; k++ {
				side = mk([]string{side}, i, signers[(i+k)%5])
				i++
			}
			head = mk([]string{head, side}, i, signers[i%5])
			i++
			continue
		}
		head = mk([]string{head}, i, signers[i%5])
		i++
	}
	// Write the pack, index it with git, set the refs.
	var pk bytes.Buffer
	pk.WriteString("PACK")
	binary.Write(&pk, binary.BigEndian, uint32(2))
	binary.Write(&pk, binary.BigEndian, g.n)
	pk.Write(g.pack.Bytes())
	sum := sha1.Sum(pk.Bytes())
	pk.Write(sum[:])
	for _, d := range []string{"objects/pack", "refs/heads"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	packPath := filepath.Join(dir, "objects", "pack", "pack-gen.pack")
	if err := os.WriteFile(packPath, pk.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "index-pack", packPath).CombinedOutput(); err != nil {
		t.Fatalf("git index-pack: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "HEAD"), []byte("ref: refs/heads/main\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "config"), []byte("[core]\n\trepositoryformatversion = 0\n\tbare = true\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "refs/heads/main"), []byte(head+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "refs/heads/keyring"), []byte(keyring+"\n"), 0o644)
	return dir, intro, hex.EncodeToString(signers[0].fpr[:]), head
}

// TestGeneratedChannel checks the generator (which the bench uses) on a small channel: git
// fsck accepts it, airlock authenticates it from the directory and from a bundle of it, and so
// does the real Guix when its root is there.
func TestGeneratedChannel(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git missing")
	}
	dir, intro, signer, head := genChannel(t, filepath.Join(t.TempDir(), "ch.git"), 300)
	if out, err := exec.Command("git", "-C", dir, "fsck", "--strict").CombinedOutput(); err != nil {
		t.Fatalf("git fsck: %v\n%s", err, out)
	}
	io, _ := ParseOID(intro)
	fp, _ := hex.DecodeString(signer)
	p := Policy{Introduction: io, Signer: [20]byte(fp)}
	src, err := OpenRepository(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := src.Authenticate(t.Context(), p)
	if err != nil || res.Target.String() != head || len(res.Signers) != 5 {
		t.Fatalf("%+v %v", res, err)
	}
	bundlePath := filepath.Join(t.TempDir(), "ch.bundle")
	if out, err := exec.Command("git", "-C", dir, "bundle", "create", bundlePath, "main", "keyring").CombinedOutput(); err != nil {
		t.Fatalf("git bundle: %v\n%s", err, out)
	}
	f, _ := os.Open(bundlePath)
	defer f.Close()
	st, _ := f.Stat()
	b, err := OpenBundle(bundlePath, f, st.Size(), p)
	if err != nil {
		t.Fatal(err)
	}
	p.End = "refs/heads/main"
	if res2, err := b.Authenticate(t.Context(), p); err != nil || res2.Authenticated != res.Authenticated {
		t.Fatalf("bundle: %+v %v", res2, err)
	}
	if root := guixRoot(t); root != "" {
		if ok, out := guixAuthenticate(t, root, dir, intro, signer, head, 7); !ok {
			t.Errorf("real guix git authenticate refuses the generated channel:\n%s", out)
		}
	}
}
