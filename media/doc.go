// Package media touches block devices: it watches kernel uevents, identifies and guards devices,
// authorizes only USB mass-storage interfaces, reads partition tables and filesystems in userspace
// without mounting, and wipes, verifies and reformats sticks.
package media
