package fat

import (
	"os"
	"testing"
)

// TestMain gives the tools the tests drive (mtools, 7z, mkfs.fat) a UTF-8 locale whatever the
// caller's is: with LANG unset (env -i, a minimal root, a container) mtools converts long names
// to the C locale's charset, and the names the tests compare no longer read back.
func TestMain(m *testing.M) {
	os.Setenv("LC_ALL", "C.UTF-8")
	os.Exit(m.Run())
}
