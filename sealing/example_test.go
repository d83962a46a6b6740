package sealing_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/airlock-appliance/airlock/sealing"
)

// Seal a tree on the low side and verify it as the high side does: the signature over
// SHA256SUMS, exactly the listed files, every hash. A byte changed after sealing fails.
func Example() {
	ctx := context.Background()
	keys, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(keys)
	if _, err := sealing.GenerateKeys(keys, sealing.KeygenOptions{Role: sealing.RoleApprover}); err != nil {
		log.Fatal(err)
	}
	key, err := sealing.LoadSealKey(filepath.Join(keys, sealing.ApproverKeyFile), "")
	if err != nil {
		log.Fatal(err)
	}
	pub, err := sealing.LoadPublicKey(filepath.Join(keys, sealing.ApproverPubFile))
	if err != nil {
		log.Fatal(err)
	}

	tree, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(tree)
	os.MkdirAll(filepath.Join(tree, sealing.BundleDir), 0o755)
	os.WriteFile(filepath.Join(tree, sealing.BundleDir, "hello.txt"), []byte("hello\n"), 0o644)
	if _, err := sealing.SealDir(ctx, tree, key, sealing.SealInfo{Session: "S1", Station: "demo", LogIndex: -1}); err != nil {
		log.Fatal(err)
	}

	v, err := sealing.Verify(ctx, os.DirFS(tree), sealing.VerifyOptions{Trusted: []*sealing.PublicKey{pub}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("VALID: %d file(s), %d bytes, session %s\n", v.Files, v.Bytes, v.Info.Session)

	os.WriteFile(filepath.Join(tree, sealing.BundleDir, "hello.txt"), []byte("HELLO\n"), 0o644)
	_, err = sealing.Verify(ctx, os.DirFS(tree), sealing.VerifyOptions{Trusted: []*sealing.PublicKey{pub}})
	var ve *sealing.VerifyError
	if errors.As(err, &ve) {
		fmt.Printf("INVALID: %s %s\n", ve.Kind(), ve.File)
	}
	// Output:
	// VALID: 1 file(s), 6 bytes, session S1
	// INVALID: hash-mismatch bundle/hello.txt
}
