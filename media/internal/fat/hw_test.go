//go:build hwtest

package fat

import (
	"testing"
	"time"
)

// TestHWDifferentialMutations is TestDifferentialMutations for 30 s, over FAT32 volumes as well,
// with the kernel's vfat as a reader where it can be mounted (root, a kernel with vfat).
func TestHWDifferentialMutations(t *testing.T) { differential(t, 30*time.Second, 12, 16, 32) }
