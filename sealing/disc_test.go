package sealing

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteDiscAuditChainsDiscs: the second disc proves consistency from the first disc's
// tree size, which WriteDiscAudit kept in the log directory; an explicit prev overrides it.
func TestWriteDiscAuditChainsDiscs(t *testing.T) {
	logDir := t.TempDir()
	l, _ := discLog(t, logDir, "log")
	defer l.Close()
	ctx := context.Background()
	disc := func(prev int64) (string, int64) {
		idx, err := l.Append(ctx, map[string]any{"type": "seal"})
		if err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		size, err := WriteDiscAudit(l, logDir, root, idx, prev)
		if err != nil {
			t.Fatal(err)
		}
		return root, size
	}
	first, size1 := disc(-1)
	if _, err := os.Stat(filepath.Join(first, PrevConsistency)); !os.IsNotExist(err) {
		t.Errorf("the first disc carries a consistency proof (%v)", err)
	}
	for _, p := range []string{CheckpointPath, RecordPath, InclusionPath} {
		if _, err := os.Stat(filepath.Join(first, p)); err != nil {
			t.Errorf("first disc: %v", err)
		}
	}
	l.Append(ctx, map[string]any{"type": "insert"}) // records between discs
	second, size2 := disc(-1)
	b, err := os.ReadFile(filepath.Join(second, PrevSizePath))
	if err != nil || strings.TrimSpace(string(b)) != "1" || size1 != 1 {
		t.Fatalf("second disc's previous size %q (%v), first disc's tree size %d", b, err, size1)
	}
	if _, err := os.Stat(filepath.Join(second, PrevConsistency)); err != nil {
		t.Error(err)
	}
	last, _ := os.ReadFile(filepath.Join(logDir, LastDiscFile))
	if strings.TrimSpace(string(last)) != "3" || size2 != 3 {
		t.Errorf("%s = %q after a disc of tree size %d", LastDiscFile, last, size2)
	}
	third, _ := disc(2)
	if b, _ := os.ReadFile(filepath.Join(third, PrevSizePath)); strings.TrimSpace(string(b)) != "2" {
		t.Errorf("explicit prev 2 gave previous size %q", b)
	}
}
