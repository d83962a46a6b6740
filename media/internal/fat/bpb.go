// Package fat reads FAT12, FAT16 and FAT32 volumes of hostile media in userspace, and writes a
// fresh FAT32 volume (see Format).
//
// Open validates the whole volume before it serves a single byte: the boot sector's geometry must
// fit inside the partition, every cluster chain must stay in range, end properly and be claimed by
// one file only (which also rules out directory loops), every file's chain must be exactly as
// long as its size needs, no cluster may be in use by no file, and every name must be a clean path
// element that Linux, mtools and 7z would all show the same; whatever fsck.fat -n reports about
// the files is refused (see read.go for the list). The result is an fstree.FS whose files read
// straight from the validated cluster runs.
package fat

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/airlock-appliance/airlock/media/internal/mediaerr"
)

// Type is the FAT variant, decided by the cluster count as the Microsoft specification says.
type Type int

// FAT variants.
const (
	FAT12 Type = 12
	FAT16 Type = 16
	FAT32 Type = 32
)

// String gives "FAT12", "FAT16" or "FAT32".
func (t Type) String() string { return fmt.Sprintf("FAT%d", int(t)) }

// Limits on what Open accepts, so that a hostile volume cannot make it allocate without bound.
const (
	MaxClusters     = 1 << 26 // 256 MiB of FAT32 table
	MaxClusterBytes = 1 << 21
	MaxEntries      = 1 << 18 // files and directories in the whole volume
	MaxDepth        = 64
	MaxDirBytes     = 65536 * 32 // the specification's limit on one directory
	MaxAllDirBytes  = 64 << 20   // directory data of the whole volume
	// MaxPathBytes bounds the paths of all entries together (each counted whole, as a walker
	// that keeps every path holds them): a deep tree of long names cannot make the walkers
	// above hold gigabytes of path strings.
	MaxPathBytes = 16 << 20
	// MaxExtents bounds the runs of all files' cluster chains together (16 bytes each): a
	// volume fragmented one cluster at a time cannot make the reader hold a map of it.
	MaxExtents = 1 << 21
	// fatCacheBytes bounds the part of the FAT held in memory at once (see fatTable).
	fatCacheBytes = 16 << 20
)

// BPB is the decoded BIOS parameter block of a FAT boot sector.
type BPB struct {
	BytesPerSector    uint32
	SectorsPerCluster uint32
	ReservedSectors   uint32
	NumFATs           uint32
	RootEntries       uint32
	TotalSectors      uint32
	FATSectors        uint32
	HiddenSectors     uint32
	RootCluster       uint32 // FAT32
	ExtFlags          uint16 // FAT32: bit 7 set = mirroring off, bits 0-3 active FAT
	Media             byte   // media descriptor: 0xF0 or 0xF8..0xFF; FAT[0] repeats it
	VolumeID          uint32
	Label             string

	Type          Type
	Clusters      uint32 // count of data clusters, numbered 2..Clusters+1
	FirstData     uint32 // sector of cluster 2
	FirstRootDir  uint32 // FAT12/16: sector of the fixed root directory
	RootDirSecors uint32
}

// LooksLikeFAT reports whether sector 0 of a volume plausibly carries a FAT boot sector. It is a
// cheap test for telling a FAT superfloppy from an MBR; ParseBPB decides for real.
func LooksLikeFAT(b []byte) bool {
	if len(b) < 512 || (b[0] != 0xEB && b[0] != 0xE9) {
		return false
	}
	_, err := ParseBPB(b, 1<<62)
	return err == nil
}

func pow2(v uint32) bool { return v != 0 && v&(v-1) == 0 }

// ParseBPB decodes and checks the boot sector b of a volume of size bytes.
func ParseBPB(b []byte, size int64) (*BPB, error) {
	if len(b) < 512 {
		return nil, mediaerr.Corrupt("FAT: boot sector shorter than 512 bytes")
	}
	le16 := func(o int) uint32 { return uint32(binary.LittleEndian.Uint16(b[o:])) }
	le32 := func(o int) uint32 { return binary.LittleEndian.Uint32(b[o:]) }
	p := &BPB{
		BytesPerSector:    le16(11),
		SectorsPerCluster: uint32(b[13]),
		ReservedSectors:   le16(14),
		NumFATs:           uint32(b[16]),
		RootEntries:       le16(17),
		TotalSectors:      le16(19),
		FATSectors:        le16(22),
		HiddenSectors:     le32(28),
		Media:             b[21],
	}
	if p.TotalSectors == 0 {
		p.TotalSectors = le32(32)
	}
	fat32 := p.FATSectors == 0
	if fat32 {
		p.FATSectors = le32(36)
		p.ExtFlags = uint16(le16(40))
		p.RootCluster = le32(44)
	}
	switch {
	case !pow2(p.BytesPerSector) || p.BytesPerSector < 512 || p.BytesPerSector > 4096:
		return nil, mediaerr.Corrupt("FAT: bytes per sector %d", p.BytesPerSector)
	case !pow2(p.SectorsPerCluster):
		return nil, mediaerr.Corrupt("FAT: sectors per cluster %d", p.SectorsPerCluster)
	case p.BytesPerSector*p.SectorsPerCluster > MaxClusterBytes:
		return nil, mediaerr.Corrupt("FAT: cluster size %d", p.BytesPerSector*p.SectorsPerCluster)
	case p.ReservedSectors == 0:
		return nil, mediaerr.Corrupt("FAT: no reserved sectors")
	case p.NumFATs == 0 || p.NumFATs > 4:
		return nil, mediaerr.Corrupt("FAT: %d FATs", p.NumFATs)
	case p.FATSectors == 0:
		return nil, mediaerr.Corrupt("FAT: FAT size 0")
	case p.TotalSectors == 0:
		return nil, mediaerr.Corrupt("FAT: total sectors 0")
	}
	if int64(p.TotalSectors)*int64(p.BytesPerSector) > size {
		return nil, mediaerr.Corrupt("FAT: volume of %d sectors of %d bytes is larger than its partition (%d bytes)",
			p.TotalSectors, p.BytesPerSector, size)
	}
	p.RootDirSecors = (p.RootEntries*32 + p.BytesPerSector - 1) / p.BytesPerSector
	meta := uint64(p.ReservedSectors) + uint64(p.NumFATs)*uint64(p.FATSectors) + uint64(p.RootDirSecors)
	if meta >= uint64(p.TotalSectors) {
		return nil, mediaerr.Corrupt("FAT: metadata (%d sectors) fills the volume (%d sectors)", meta, p.TotalSectors)
	}
	p.FirstRootDir = p.ReservedSectors + p.NumFATs*p.FATSectors
	p.FirstData = uint32(meta)
	p.Clusters = (p.TotalSectors - p.FirstData) / p.SectorsPerCluster
	switch {
	case p.Clusters < 4085:
		p.Type = FAT12
	case p.Clusters < 65525:
		p.Type = FAT16
	default:
		p.Type = FAT32
	}
	if (p.Type == FAT32) != fat32 {
		return nil, mediaerr.Corrupt("FAT: %d clusters is %v but the boot sector has the other layout", p.Clusters, p.Type)
	}
	if p.Clusters == 0 {
		return nil, mediaerr.Corrupt("FAT: no data clusters")
	}
	if p.Clusters > MaxClusters {
		return nil, mediaerr.Unsupported("FAT32 with %d clusters (limit %d)", p.Clusters, MaxClusters)
	}
	need := uint64(p.Clusters+2) * uint64(p.Type) / 8
	if uint64(p.FATSectors)*uint64(p.BytesPerSector) < need {
		return nil, mediaerr.Corrupt("%v: FAT of %d sectors cannot hold %d clusters", p.Type, p.FATSectors, p.Clusters)
	}
	if p.Type == FAT32 {
		if p.RootEntries != 0 {
			return nil, mediaerr.Corrupt("FAT32: root entry count %d", p.RootEntries)
		}
		if p.RootCluster < 2 || p.RootCluster > p.Clusters+1 {
			return nil, mediaerr.Corrupt("FAT32: root cluster %d out of range", p.RootCluster)
		}
		if b[66] == 0x29 {
			p.VolumeID = le32(67)
			p.Label = strings.TrimRight(string(b[71:82]), " ")
		}
	} else {
		if p.RootEntries == 0 {
			return nil, mediaerr.Corrupt("%v: no root directory entries", p.Type)
		}
		if b[38] == 0x29 {
			p.VolumeID = le32(39)
			p.Label = strings.TrimRight(string(b[43:54]), " ")
		}
	}
	return p, nil
}
