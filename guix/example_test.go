package guix_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/airlock-appliance/airlock/guix"
)

// nar returns the NAR of a single regular file, as `nix-store --dump` writes it.
func nar(contents string) []byte {
	var b bytes.Buffer
	str := func(s string) {
		var n [8]byte
		n[0] = byte(len(s))
		b.Write(n[:])
		b.WriteString(s)
		b.Write(make([]byte, (8-len(s)%8)%8))
	}
	for _, s := range []string{"nix-archive-1", "(", "type", "regular", "contents", contents, ")"} {
		str(s)
	}
	return b.Bytes()
}

// A Judge fed item by item gives the report VerifyExport gives.
func ExampleJudge() {
	key, _ := guix.GenerateKey(bytes.NewReader(make([]byte, 64)))
	var export bytes.Buffer
	ew := guix.NewExportWriter(&export, key)
	lib := "/gnu/store/00000000000000000000000000000000-lib-1.0"
	app := "/gnu/store/11111111111111111111111111111111-app-1.0"
	ew.AddBytes(nar("lib"), lib, nil, "")
	ew.AddBytes(nar("app"), app, []string{lib, "/gnu/store/22222222222222222222222222222222-libc-2.41"}, "")
	ew.Close()

	j := guix.NewJudge(guix.NewACL(key.Public()), nil)
	er := guix.NewExportReader(&export)
	var rep *guix.ExportReport
	for rep == nil {
		it, err := er.Next()
		if err == nil {
			err = j.Add(it) // it.NAR() could be walked first
		}
		if err != nil {
			rep, _ = j.Finish(err) // io.EOF: complete
		}
	}
	fmt.Println(rep.Accept)
	for _, why := range rep.Reasons() {
		fmt.Println(why)
	}
	// Output:
	// false
	// /gnu/store/11111111111111111111111111111111-app-1.0: missing-reference (not earlier in the stream nor present: /gnu/store/22222222222222222222222222222222-libc-2.41)
}

// Two of three builders agree on an item: it is approved.
func ExampleQuorumJudge() {
	var builders []guix.Builder
	var keys []*guix.PrivateKey
	for i, name := range []string{"farm-a", "farm-b", "farm-c"} {
		seed := make([]byte, 64)
		seed[0] = byte(i + 1)
		k, _ := guix.GenerateKey(bytes.NewReader(seed))
		keys = append(keys, k)
		builders = append(builders, guix.Builder{Name: name, Key: k.Public()})
	}
	q, _ := guix.NewQuorum(builders, 2)
	j := guix.NewQuorumJudge(q, nil)
	hello := "/gnu/store/33333333333333333333333333333333-hello-2.12"
	for _, k := range keys[:2] {
		var export bytes.Buffer
		ew := guix.NewExportWriter(&export, k)
		ew.AddBytes(nar("hello"), hello, nil, "")
		ew.Close()
		j.AddExport(context.Background(), "export", &export)
	}
	rep := j.Report()
	fmt.Println(rep.Items[0].Verdict, rep.Items[0].Vouchers)
	// Output: approved [farm-a farm-b]
}
