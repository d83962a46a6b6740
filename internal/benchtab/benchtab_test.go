package benchtab

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRunMeasuresChild(t *testing.T) {
	// sh allocating ~64 MiB through a string: the child's peak RSS must show it, not ours.
	m, err := Run(context.Background(), "sh", "-c", "head -c 67108864 /dev/zero | tr '\\0' a > /dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if m.Wall <= 0 || m.PeakRSS <= 0 {
		t.Fatalf("measure = %+v, want positive wall time and RSS", m)
	}
	if _, err := Run(context.Background(), "sh", "-c", "echo boom; exit 3"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failing child: err = %v, want it with the child's output", err)
	}
}

func TestRowFormat(t *testing.T) {
	r := Row{What: "iso 1 GiB", Peer: "xorriso", Bytes: 1 << 30,
		Ours: Measure{Wall: time.Second, PeakRSS: 32 << 20}, Theirs: Measure{Wall: 2 * time.Second}}
	got := r.Format()
	want := "BENCHROW\tiso 1 GiB\txorriso\t0.50\t-\t1073.7 MB/s\t32.0 MiB\t"
	if got != want {
		t.Fatalf("Format() = %q, want %q", got, want)
	}
	r.Target = 0.4
	if !r.Missed() || !strings.Contains(r.Format(), "\t<= 0.40 MISSED\t") {
		t.Fatalf("ratio 0.50 against target 0.40: Missed %v, %q", r.Missed(), r.Format())
	}
	r.Target = 0.5
	if r.Missed() || !strings.Contains(r.Format(), "\t<= 0.50\t") {
		t.Fatalf("ratio 0.50 against target 0.50: Missed %v, %q", r.Missed(), r.Format())
	}
}
