package appliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMounted(t *testing.T) {
	if !mounted("/proc") {
		t.Error("/proc not seen as mounted")
	}
	if _, err := os.Stat("/sys/kernel"); err == nil && !mounted("/sys") {
		t.Error("/sys not seen as mounted")
	}
	if mounted(t.TempDir()) {
		t.Error("a plain directory seen as a mount point")
	}
}

func TestLoadModulesNotes(t *testing.T) {
	notes := loadModules(filepath.Join(t.TempDir(), "missing"))
	if len(notes) != 1 || !strings.Contains(notes[0], "kernel modules") {
		t.Errorf("notes %q", notes)
	}
}
