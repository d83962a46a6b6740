package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// [sandbox]: the demo's values, the defaults when absent, and every out-of-range value refused
// naming its key (and, through Check, its named error).
func TestSandboxSection(t *testing.T) {
	b, err := os.ReadFile("testdata/demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("demo.toml", b, "/etc/airlock")
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(p.Sandbox.Deadline) != 2*time.Hour || p.Sandbox.Memory != 16<<30 {
		t.Errorf("demo [sandbox]: %+v", p.Sandbox)
	}
	p, err = Parse("p", []byte(minimal), "/x")
	if err != nil {
		t.Fatal(err)
	}
	if p.Sandbox != Default().Sandbox || p.Sandbox.Check() != nil {
		t.Errorf("defaults: %+v (%v)", p.Sandbox, p.Sandbox.Check())
	}
	p, err = Parse("p", []byte(minimal+"[sandbox]\ndeadline = \"1s\"\nmemory = \"256MiB\"\n"), "/x")
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(p.Sandbox.Deadline) != time.Second || p.Sandbox.Memory != 256<<20 {
		t.Errorf("%+v", p.Sandbox)
	}
	for _, c := range []struct{ toml, key, problem string }{
		{`deadline = "500ms"`, "sandbox.deadline", "500ms out of range 1s..48h"},
		{`deadline = "49h"`, "sandbox.deadline", "49h0m0s out of range 1s..48h"},
		{`deadline = "0s"`, "sandbox.deadline", "0s out of range"},
		{`memory = "255MiB"`, "sandbox.memory", "267386880 bytes out of range 256MiB..1TiB"},
		{`memory = "2TiB"`, "sandbox.memory", "out of range 256MiB..1TiB"},
		{`memory = 0`, "sandbox.memory", "0 bytes out of range"},
		{`timeout = "1h"`, "sandbox.timeout", "unknown key"},
	} {
		_, err := Parse("p", []byte(minimal+"[sandbox]\n"+c.toml+"\n"), "/x")
		var pe *Errors
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) || len(pe.List) != 1 ||
			pe.List[0].Key != c.key || !strings.Contains(pe.List[0].Problem, c.problem) {
			t.Errorf("%s: %v, want %s: ...%s", c.toml, err, c.key, c.problem)
		}
	}
	if err := (Sandbox{Deadline: Duration(time.Millisecond), Memory: 16 << 30}).Check(); !errors.Is(err, ErrWorkerDeadline) || errors.Is(err, ErrWorkerMemory) {
		t.Errorf("Check of a 1ms deadline: %v", err)
	}
	if err := (Sandbox{Deadline: Duration(time.Hour), Memory: 1 << 20}).Check(); !errors.Is(err, ErrWorkerMemory) || errors.Is(err, ErrWorkerDeadline) {
		t.Errorf("Check of 1 MiB: %v", err)
	}
}
