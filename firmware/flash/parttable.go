package flash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Partition is one entry of a disk's partition table.
type Partition struct {
	Number int    // 1-based, as Linux numbers them
	Start  int64  // bytes from the start of the disk
	Size   int64  // bytes
	Type   string // MBR type as "0x0c", or the GPT type GUID
	Name   string // GPT partition name
}

const sector = 512

// MBR partition types of FAT file systems, and GPT types that hold one.
var (
	fatMBRTypes = map[byte]bool{0x01: true, 0x04: true, 0x06: true, 0x0b: true, 0x0c: true, 0x0e: true, 0xef: true}
	fatGPTTypes = map[string]bool{
		"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": true, // EFI system
		"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": true, // Microsoft basic data
	}
)

// MaybeFAT says whether the partition's type allows a FAT file system.
func (p Partition) MaybeFAT() bool {
	if len(p.Type) == 4 {
		var t byte
		fmt.Sscanf(p.Type, "0x%02x", &t)
		return fatMBRTypes[t]
	}
	return fatGPTTypes[p.Type]
}

// maxGPTEntries bounds what a hostile header can make us read.
const maxGPTEntries = 1024

// ReadPartitions reads an MBR or GPT partition table from a disk or image
// of the given size. Every entry is checked to lie inside the disk.
func ReadPartitions(r io.ReaderAt, size int64) ([]Partition, error) {
	mbr := make([]byte, sector)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return nil, fmt.Errorf("partition table: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return nil, errors.New("partition table: no MBR signature (not a disk image?)")
	}
	var parts []Partition
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i : 446+16*(i+1)]
		typ := e[4]
		if typ == 0xee {
			return readGPT(r, size)
		}
		start := int64(binary.LittleEndian.Uint32(e[8:])) * sector
		n := int64(binary.LittleEndian.Uint32(e[12:])) * sector
		if typ == 0 || n == 0 {
			continue
		}
		if typ == 0x05 || typ == 0x0f || typ == 0x85 {
			continue // extended partitions hold logical ones; a boot partition is never there
		}
		if start < sector || start+n > size {
			return nil, fmt.Errorf("partition table: MBR partition %d (%d bytes at %d) lies outside the %d-byte disk", i+1, n, start, size)
		}
		parts = append(parts, Partition{Number: i + 1, Start: start, Size: n, Type: fmt.Sprintf("0x%02x", typ)})
	}
	if len(parts) == 0 {
		return nil, errors.New("partition table: the MBR has no partitions")
	}
	return parts, nil
}

func readGPT(r io.ReaderAt, size int64) ([]Partition, error) {
	h := make([]byte, sector)
	if _, err := r.ReadAt(h, sector); err != nil {
		return nil, fmt.Errorf("GPT header: %w", err)
	}
	if !bytes.Equal(h[:8], []byte("EFI PART")) {
		return nil, errors.New("GPT header: bad signature")
	}
	entriesLBA := int64(binary.LittleEndian.Uint64(h[72:]))
	count := binary.LittleEndian.Uint32(h[80:])
	entrySize := binary.LittleEndian.Uint32(h[84:])
	if count == 0 || count > maxGPTEntries || entrySize < 128 || entrySize > 4096 || entrySize%8 != 0 {
		return nil, fmt.Errorf("GPT header: %d entries of %d bytes is not a valid table", count, entrySize)
	}
	if entriesLBA < 2 || entriesLBA > size/sector || entriesLBA*sector+int64(count)*int64(entrySize) > size {
		return nil, errors.New("GPT header: the entry array lies outside the disk")
	}
	table := make([]byte, int(count)*int(entrySize))
	if _, err := r.ReadAt(table, entriesLBA*sector); err != nil {
		return nil, fmt.Errorf("GPT entries: %w", err)
	}
	var parts []Partition
	for i := 0; i < int(count); i++ {
		e := table[i*int(entrySize):]
		typ := guidString(e[:16])
		if typ == "00000000-0000-0000-0000-000000000000" {
			continue
		}
		first := binary.LittleEndian.Uint64(e[32:])
		last := binary.LittleEndian.Uint64(e[40:])
		if first == 0 || last < first || last >= uint64(size/sector) {
			return nil, fmt.Errorf("GPT partition %d (sectors %d-%d) lies outside the %d-byte disk", i+1, first, last, size)
		}
		parts = append(parts, Partition{Number: i + 1, Start: int64(first) * sector, Size: int64(last-first+1) * sector,
			Type: typ, Name: utf16Name(e[56:128])})
	}
	if len(parts) == 0 {
		return nil, errors.New("GPT: no partitions")
	}
	return parts, nil
}

// guidString formats a GPT GUID (mixed-endian on disk).
func guidString(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

func utf16Name(b []byte) string {
	var rs []rune
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		rs = append(rs, rune(c))
	}
	return string(rs)
}
