package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDevicesListsRealSysfs(t *testing.T) {
	out, errOut, code := runCLI(t, "devices", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") { // JSON Lines: one per device
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("not JSON Lines: %v\n%s", err, out)
		}
		list = append(list, d)
	}
	// The machine's own disk is mounted (it holds /): listed, and refused by the guard.
	for _, d := range list {
		if d["node"] == nil || d["size"] == nil {
			t.Errorf("device without node or size: %v", d)
		}
		if d["allowed"] == true && d["bus"] != "usb" {
			t.Errorf("guard admits a non-USB disk: %v", d)
		}
	}
	out, _, code = runCLI(t, "devices")
	if code != exitOK || !strings.HasPrefix(out, "NAME") {
		t.Fatalf("table: exit %d\n%s", code, out)
	}
	if _, _, code := runCLI(t, "devices", "extra"); code != exitError {
		t.Errorf("extra argument: exit %d", code)
	}
}
