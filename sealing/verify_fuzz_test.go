package sealing

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzVerify feeds Verify manifests (signed by the trusted key, so parsing goes past the
// signature) and checkpoint files over a fixed tree: it must return an error or a result, never
// panic, and never accept a manifest that does not list the tree exactly.
func FuzzVerify(f *testing.F) {
	key, _, _ := testKey(f, "fuzz")
	tree := fstest.MapFS{
		"bundle/a":            {Data: []byte("a")},
		"bundle/b c":          {Data: []byte("b")},
		"AIRLOCK/checkpoint":  {Data: []byte("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— o x\n")},
		"AIRLOCK/record.json": {Data: []byte(`{"type":"seal"}`)},
	}
	files, _ := HashFS(context.Background(), tree, 1)
	good, _, _ := SignManifest(files, key, SealInfo{LogIndex: NoLogIndex})
	f.Add(good, SealInfo{LogIndex: 0}.TrustedComment())
	f.Add([]byte(strings.Repeat("0", 64)+"  bundle/a\n"), "airlock-seal session= station= time= policy= log=")
	f.Fuzz(func(t *testing.T, manifest []byte, comment string) {
		fsys := fstest.MapFS{}
		for k, v := range tree {
			fsys[k] = v
		}
		fsys[ManifestName] = &fstest.MapFile{Data: manifest}
		fsys[SignatureName] = &fstest.MapFile{Data: key.SignDetached(manifest, comment)}
		v, err := Verify(context.Background(), fsys, VerifyOptions{Trusted: []*PublicKey{key.Public()}, Workers: 1})
		if err == nil && v.Files != len(files) {
			t.Fatalf("accepted a manifest of %d files for a tree of %d", v.Files, len(files))
		}
	})
}
