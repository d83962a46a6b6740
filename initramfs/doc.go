// Package initramfs describes the appliance's boot image: the u-root build, the kernel modules and
// the files (static airlock, xorriso, policy, public keys, YARA rules) that make up the initramfs.
package initramfs
