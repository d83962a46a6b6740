// Package hwtest holds the hardware-in-the-loop tests: loop devices on the host (build tag hwtest)
// and the real boot image in QEMU with hot-plugged virtual sticks and optical drives (build tag qemu).
//
// The QEMU suite (`make qemutest`: go test -tags qemu -run '^TestQEMU' -p 1 ./hwtest/...) boots
// build/vmlinuz-airlock + build/airlock-initramfs.cpio.xz (make image), one VM per test, through
// package hwtest/vm. Station tests drive `airlock run --boot` as the image's uinit over the serial
// line view (appliance/doc.go) and QMP: boot to READY, clean import burned onto a virtio target
// disk and verified on the host, EICAR rejected with nothing written, sanitize (fsck.fat -n and a
// minisign-verified certificate), a stick pulled mid-import, a USB keyboard refused, a second
// stick queued, a burned image checked in a USB optical drive (and a tampered one refused).
// Kernel-level tests replace the station with a probe script (an initramfs overlay) to check
// hot-plug and optical-drive reads independently of it. Benchmarks (tag bench): boot to READY and
// image size; import of AIRLOCK_BENCH_QEMU_MIB (default 200) MiB against guest dd of the stick.
package hwtest
