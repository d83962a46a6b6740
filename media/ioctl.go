package media

import "unsafe"

// Linux ioctls that x/sys/unix does not define (include/uapi/linux/cdrom.h).
const (
	CDROMEJECT         = 0x5309
	CDROM_DRIVE_STATUS = 0x5326 //nolint:revive // the kernel's name
	CDSL_CURRENT       = 0x7fffffff
)

func uintptrOf(p *uint64) uintptr { return uintptr(unsafe.Pointer(p)) }
