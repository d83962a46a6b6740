//go:build bench

package hwtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-appliance/airlock/hwtest/vm"
	"github.com/airlock-appliance/airlock/internal/benchtab"
	"github.com/airlock-appliance/airlock/internal/testenv"
)

// The QEMU benchmarks use the qemu suite's helpers: qemu_test.go and station_test.go build under
// either tag (`make bench` runs only TestBench*, `make qemutest` only TestQEMU*).

// benchMiB is the size of the bundle of the import benchmark: $AIRLOCK_BENCH_QEMU_MIB, default 200.
func benchMiB(t *testing.T) int {
	return benchtab.EnvInt(t, "AIRLOCK_BENCH_QEMU_MIB", 200)
}

// TestBenchQEMUBoot: boot to the station's READY under TCG, and the image size.
func TestBenchQEMUBoot(t *testing.T) {
	_, img := bootImage(t)
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	s := bootStation(t)
	benchtab.Report(t, benchtab.Row{What: "qemu boot to READY (TCG)", Peer: "-",
		Ours: benchtab.Measure{Wall: s.ready},
		Note: fmt.Sprintf("boot to READY %.1f s; initramfs %.1f MiB xz (budget 24)", s.ready.Seconds(),
			float64(st.Size())/(1<<20))})
}

// TestBenchQEMUImport: the station's import of a stick holding one file of AIRLOCK_BENCH_QEMU_MIB
// MiB (read + hash + YARA + spool, to the verdict) next to the guest reading the same stick
// with dd in a VM booted from the same image. The file is not allowlisted, so the job ends at the
// verdict: seal and burn are not in this number.
func TestBenchQEMUImport(t *testing.T) {
	testenv.Need(t, "mkfs.fat", "mcopy")
	n := benchMiB(t)
	stick := bigStick(t, n<<20)
	ctx := context.Background()

	// Peer: dd of the whole stick in the guest, timed between two console lines.
	m := kernelHotplug(t,
		"while true; do if dd if=/dev/sda of=/dev/null bs=512 count=1; then break; fi; sleep 1; done",
		"echo probe: dd start",
		"dd if=/dev/sda of=/dev/null bs=1048576",
		"echo probe: dd done")
	if err := m.PlugStick(vm.Stick{ID: "stick1", Path: stick, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(ctx, 5*time.Minute, `^probe: dd start$`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := m.Expect(ctx, 30*time.Minute, `^probe: dd done$`); err != nil {
		t.Fatal(err)
	}
	dd := time.Since(start)
	m.Close()

	s := bootStation(t)
	if err := s.PlugStick(vm.Stick{ID: "stick1", Path: stick, Serial: stickSerial, ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	began := s.startImport(ctx, t, 5*time.Minute, "bench")
	if _, err := s.Expect(ctx, 30*time.Minute, `^airlock: verdict `); err != nil {
		t.Fatal(err)
	}
	imp := time.Since(began)
	st, _ := os.Stat(stick)
	benchtab.Report(t, benchtab.Row{What: fmt.Sprintf("qemu import %d MiB to verdict", n), Peer: "guest dd",
		Ours: benchtab.Measure{Wall: imp}, Theirs: benchtab.Measure{Wall: dd}, Bytes: int64(n) << 20,
		Note: fmt.Sprintf("stick %s %d bytes; TCG", filepath.Base(stick), st.Size())})
}
