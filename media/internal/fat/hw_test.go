//go:build hwtest

package fat

import (
	"testing"
	"time"
)

// TestHWDifferentialMutations is TestDifferentialMutations for 30 s, with the kernel's vfat as a
// reader where it can be mounted (root, a kernel with vfat).
func TestHWDifferentialMutations(t *testing.T) { differential(t, 30*time.Second) }
