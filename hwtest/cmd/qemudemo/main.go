// Command qemudemo boots the appliance image in QEMU, hot-plugs a stick through QMP, answers the
// station's prompts on the serial console as an operator would, and stops after the job's PASS or
// FAIL. scripts/demo-qemu.sh (make demo) prepares the stick and checks the burned target after.
//
//	qemudemo -kernel K -initrd I -stick S -target T -log L -mode import [-answer id=value ...]
//
// Every console line of the station is printed (prefixed "  station | "); the exit status is 0
// after PASS, 1 after FAIL, 2 on an error (boot failure, timeout).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/airlock-appliance/airlock/hwtest/vm"
)

type answerFlags map[string]string

func (a answerFlags) String() string { return fmt.Sprint(map[string]string(a)) }
func (a answerFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want id=value, not %q", s)
	}
	a[k] = v
	return nil
}

func main() {
	kernel := flag.String("kernel", "build/vmlinuz-airlock", "kernel")
	initrd := flag.String("initrd", "build/airlock-initramfs.cpio.xz", "initramfs")
	stick := flag.String("stick", "", "stick image to hot-plug")
	serial := flag.String("serial", "AIRLOCKDEMO1", "the stick's USB serial number")
	target := flag.String("target", "", "burn target disk image (guest /dev/vda)")
	logDisk := flag.String("log", "", "audit log disk image, FAT labelled AIRLOCK-LOG (guest /dev/vdb)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	ans := answerFlags{"operator": "demo-operator", "mode": "import", "sanitize-after-import": "no", "insert-disc": ""}
	flag.Var(ans, "answer", "prompt answer id=value (repeatable; defaults: operator, mode=import, sanitize-after-import=no)")
	flag.Parse()
	if *stick == "" || *target == "" || *logDisk == "" {
		fmt.Fprintln(os.Stderr, "qemudemo: -stick, -target and -log are required")
		os.Exit(2)
	}
	os.Exit(run(*kernel, *initrd, *stick, *serial, *target, *logDisk, *timeout, ans))
}

func run(kernel, initrd, stick, serial, target, logDisk string, timeout time.Duration, ans answerFlags) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	say := func(format string, args ...any) { fmt.Printf("demo: "+format+"\n", args...) }
	m, err := vm.Start(ctx, vm.Config{
		Kernel: kernel, Initramfs: initrd, MemoryMiB: 2048, Append: []string{"quiet"},
		Disks: []vm.Disk{
			{ID: "target", Path: target, Serial: "AIRLOCK-TARGET"},
			{ID: "auditlog", Path: logDisk, Serial: "AIRLOCK-LOG"},
		},
		Log: func(line string) {
			if strings.HasPrefix(line, "airlock: ") && !strings.HasPrefix(line, "airlock: led ") {
				fmt.Printf("  station | %s\n", line)
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "qemudemo:", err)
		return 2
	}
	defer m.Close()
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "qemudemo: %v\nconsole transcript:\n%s\n", err, m.Transcript())
		return 2
	}
	say("booting the appliance image in QEMU (TCG)")
	if _, err := m.Expect(ctx, 5*time.Minute, `^airlock: state READY$`); err != nil {
		return fail(err)
	}
	say("station READY after %.1f s; hot-plugging the stick (QMP blockdev-add + device_add usb-storage)", m.Since().Seconds())
	if err := m.PlugStick(vm.Stick{ID: "stick1", Path: stick, Serial: serial, ReadOnly: true}); err != nil {
		return fail(err)
	}
	prompt := regexp.MustCompile(`^airlock: prompt ([a-z-]+): `)
	end := regexp.MustCompile(`^airlock: (PASS|FAIL)`)
	for {
		l, err := m.ExpectAny(ctx, timeout, prompt, end)
		if err != nil {
			return fail(err)
		}
		if p := prompt.FindStringSubmatch(l[0]); p != nil {
			a, ok := ans[p[1]]
			if !ok {
				return fail(fmt.Errorf("no answer for prompt %q", l[0]))
			}
			fmt.Printf("          > %s\n", a)
			if err := m.SendLine(a); err != nil {
				return fail(err)
			}
			continue
		}
		if l[1] == "PASS" {
			return 0
		}
		return 1
	}
}
