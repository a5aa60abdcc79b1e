package flash

import (
	"bytes"
	"testing"
)

// FuzzReadPartitions feeds the partition table reader hostile disk heads:
// it must return partitions inside the disk or an error, never panic or
// allocate without bound. The seed corpus (testdata/fuzz) holds the heads
// of MBR and GPT images made by sfdisk.
func FuzzReadPartitions(f *testing.F) {
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, disk []byte) {
		size := int64(len(disk))
		parts, err := ReadPartitions(bytes.NewReader(disk), size)
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.Start < 0 || p.Size <= 0 || p.Start+p.Size > size {
				t.Fatalf("partition %+v outside the %d-byte disk", p, size)
			}
		}
	})
}

// FuzzCheckFAT32 checks that a boot sector the checker accepts describes a
// file system whose FAT fits in its partition, so the FAT library never
// sizes a buffer from a lie.
func FuzzCheckFAT32(f *testing.F) {
	f.Add(make([]byte, 512), int64(64<<20))
	f.Fuzz(func(t *testing.T, bs []byte, partSize int64) {
		if len(bs) < 512 || partSize <= 0 {
			return
		}
		if checkFAT32(bs, partSize) != nil {
			return
		}
		bps := int64(bs[11]) | int64(bs[12])<<8
		fatSize := int64(bs[36]) | int64(bs[37])<<8 | int64(bs[38])<<16 | int64(bs[39])<<24
		if fatSize*bps > partSize {
			t.Fatalf("accepted a %d-byte FAT in a %d-byte partition", fatSize*bps, partSize)
		}
	})
}
