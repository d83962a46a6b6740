// Package hwtest holds the hardware-in-the-loop tests: loop devices on the host (build tag hwtest)
// and the real boot image in QEMU with hot-plugged virtual sticks and optical drives (build tag qemu).
package hwtest
