package guix

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestWriteApproved(t *testing.T) {
	f := newQuorumFixture(t, 2)
	appliance, _ := GenerateKey(testRand(201))
	a, c := f.export(t, 0, nil), f.export(t, 2, f.badApp)
	// c's app disagrees: only src and lib cross; c still carries their bytes.
	rep := judgeQuorum(t, f.q, nil, quorumInput{name: "c.export", export: c}, quorumInput{name: "a.export", export: a},
		quorumInput{name: "b.export", export: f.export(t, 1, nil)})
	if v := verdicts(rep); !strings.Contains(v, "mismatch") {
		t.Fatalf("%s", v)
	}
	if got := rep.Carrier(); got != "c.export" {
		t.Fatalf("carrier %q", got)
	}
	var out bytes.Buffer
	if err := WriteApproved(context.Background(), &out, rep, "c.export", bytes.NewReader(c), appliance); err != nil {
		t.Fatal(err)
	}
	vr := verifyBytes(t, out.Bytes(), NewACL(appliance.Public()))
	if !vr.Accept || len(vr.Items) != 2 || vr.Items[0].StorePath != f.src || vr.Items[1].StorePath != f.lib {
		t.Fatalf("written export: %s %v", outcomes(vr), vr.Reasons())
	}
	// All three approved: a's copy, in a's order, re-signed.
	rep = judgeQuorum(t, f.q, nil, quorumInput{name: "a.export", export: a}, quorumInput{name: "b.export", export: f.export(t, 1, nil)})
	out.Reset()
	if err := WriteApproved(context.Background(), &out, rep, rep.Carrier(), bytes.NewReader(a), appliance); err != nil {
		t.Fatal(err)
	}
	if vr := verifyBytes(t, out.Bytes(), NewACL(appliance.Public())); !vr.Accept || len(vr.Items) != 3 || vr.Items[2].StorePath != f.app {
		t.Fatalf("written export: %s", outcomes(vr))
	}
	// The carrier changed since it was judged.
	b := bytes.Clone(a)
	i := bytes.Index(b, []byte("\x7fELF lib"))
	b[i+1] ^= 1
	if err := WriteApproved(context.Background(), &out, rep, "a.export", bytes.NewReader(b), appliance); !errors.Is(err, ErrChanged) {
		t.Fatalf("changed carrier: %v", err)
	}
	// A file that does not carry the approved bytes.
	if err := WriteApproved(context.Background(), &out, rep, "x.export", bytes.NewReader(a), appliance); !errors.Is(err, ErrNoCarrier) {
		t.Fatalf("no carrier: %v", err)
	}
}
