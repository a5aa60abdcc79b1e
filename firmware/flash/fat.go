package flash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
)

// checkFAT32 validates a FAT32 boot sector against the partition holding
// it before the FAT library trusts it (it sizes its buffers from these
// fields).
func checkFAT32(bs []byte, partSize int64) error {
	if len(bs) < 512 || bs[510] != 0x55 || bs[511] != 0xaa {
		return errors.New("no boot sector signature")
	}
	bps := int64(binary.LittleEndian.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(binary.LittleEndian.Uint16(bs[14:]))
	fats := int64(bs[16])
	rootEntries := binary.LittleEndian.Uint16(bs[17:])
	fatSize16 := binary.LittleEndian.Uint16(bs[22:])
	total := int64(binary.LittleEndian.Uint32(bs[32:]))
	fatSize := int64(binary.LittleEndian.Uint32(bs[36:]))
	if fatSize16 != 0 || rootEntries != 0 || !bytes.Equal(bs[82:90], []byte("FAT32   ")) {
		if bytes.HasPrefix(bs[54:62], []byte("FAT1")) {
			return fmt.Errorf("a %s file system; only FAT32 boot partitions are supported", strings.TrimSpace(string(bs[54:62])))
		}
		return errors.New("not a FAT32 file system")
	}
	switch {
	case bps != 512 && bps != 4096:
		return fmt.Errorf("%d bytes per sector (want 512 or 4096)", bps)
	case spc == 0 || spc&(spc-1) != 0:
		return fmt.Errorf("%d sectors per cluster is not a power of two", spc)
	case reserved == 0 || fats != 2:
		return fmt.Errorf("%d reserved sectors and %d FATs is not a FAT32 layout this tool writes", reserved, fats)
	case total*bps > partSize:
		return fmt.Errorf("the file system (%d bytes) is larger than its partition (%d)", total*bps, partSize)
	case fatSize == 0 || (reserved+fats*fatSize)*bps >= total*bps:
		return fmt.Errorf("FAT size %d sectors does not fit the file system", fatSize)
	}
	return nil
}

// fatFS is a FAT32 file system inside a disk or image file.
type fatFS struct {
	fs   *fat32.FileSystem
	f    *os.File
	part Partition
}

// openFAT opens the FAT32 file system of partition p on f.
func openFAT(f *os.File, p Partition) (*fatFS, error) {
	bs := make([]byte, 512)
	if _, err := f.ReadAt(bs, p.Start); err != nil {
		return nil, fmt.Errorf("partition %d: %w", p.Number, err)
	}
	if err := checkFAT32(bs, p.Size); err != nil {
		return nil, fmt.Errorf("partition %d: %w", p.Number, err)
	}
	fs, err := fat32.Read(file.New(f, false), p.Size, p.Start, int64(binary.LittleEndian.Uint16(bs[11:])))
	if err != nil {
		return nil, fmt.Errorf("partition %d: FAT32: %w", p.Number, err)
	}
	return &fatFS{fs: fs, f: f, part: p}, nil
}

// exists reports whether a file exists. Names compare without case, as
// FAT does (the library's Stat compares with case, so open the file).
func (f *fatFS) exists(name string) bool {
	r, err := f.fs.Open(name)
	if err != nil {
		return false
	}
	r.Close()
	return true
}

func (f *fatFS) readFile(name string) ([]byte, error) {
	data, err := f.fs.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("boot partition: read %s: %w", name, err)
	}
	return data, nil
}

// writeFile replaces name (absolute, slash-separated) with the contents of
// r, making its folders.
func (f *fatFS) writeFile(name string, r io.Reader) error {
	if dir := path.Dir(name); dir != "/" {
		if err := f.fs.Mkdir(dir); err != nil {
			return fmt.Errorf("boot partition: mkdir %s: %w", dir, err)
		}
	}
	// Truncate rather than remove and create: the library's Remove leaves
	// the file's clusters allocated.
	w, err := f.fs.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("boot partition: create %s: %w", name, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return fmt.Errorf("boot partition: write %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("boot partition: write %s: %w", name, err)
	}
	return nil
}

// repair corrects two things the FAT library writes differently from the
// FAT specification (and dosfsck): the ".." entry of a folder made in the
// root folder must name cluster 0, not the root's cluster; and the FSInfo
// free-cluster count must match the FAT. Call it after the last write.
func (f *fatFS) repair() error {
	bs := make([]byte, 512)
	if _, err := f.f.ReadAt(bs, f.part.Start); err != nil {
		return err
	}
	bps := int64(binary.LittleEndian.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(binary.LittleEndian.Uint16(bs[14:]))
	fats := int64(bs[16])
	total := int64(binary.LittleEndian.Uint32(bs[32:]))
	fatSectors := int64(binary.LittleEndian.Uint32(bs[36:]))
	rootCluster := binary.LittleEndian.Uint32(bs[44:])
	fsInfoSector := int64(binary.LittleEndian.Uint16(bs[48:]))

	base := f.part.Start
	fatStart := base + reserved*bps
	dataStart := fatStart + fats*fatSectors*bps
	clusterBytes := spc * bps
	clusters := (total*bps - (dataStart - base)) / clusterBytes
	table := make([]byte, fatSectors*bps)
	if _, err := f.f.ReadAt(table, fatStart); err != nil {
		return fmt.Errorf("boot partition: reading the FAT: %w", err)
	}
	next := func(c uint32) uint32 {
		if int64(c)*4+4 > int64(len(table)) {
			return 0x0fffffff
		}
		return binary.LittleEndian.Uint32(table[c*4:]) & 0x0fffffff
	}
	valid := func(c uint32) bool { return c >= 2 && int64(c) < clusters+2 }
	clusterOffset := func(c uint32) int64 { return dataStart + int64(c-2)*clusterBytes }

	// Walk the root folder's clusters (bounded: a loop in a hostile FAT
	// must not hang us).
	entry := make([]byte, 32)
	for c, hops := rootCluster, int64(0); valid(c) && hops < clusters; c, hops = next(c), hops+1 {
		for off := int64(0); off < clusterBytes; off += 32 {
			if _, err := f.f.ReadAt(entry, clusterOffset(c)+off); err != nil {
				return err
			}
			if entry[0] == 0 {
				break
			}
			attr := entry[11]
			if entry[0] == 0xe5 || entry[0] == '.' || attr == 0x0f || attr&0x10 == 0 {
				continue
			}
			sub := uint32(binary.LittleEndian.Uint16(entry[20:]))<<16 | uint32(binary.LittleEndian.Uint16(entry[26:]))
			if !valid(sub) {
				continue
			}
			dotdot := make([]byte, 32)
			at := clusterOffset(sub) + 32
			if _, err := f.f.ReadAt(dotdot, at); err != nil {
				return err
			}
			if string(dotdot[:11]) != "..         " {
				continue
			}
			if uint32(binary.LittleEndian.Uint16(dotdot[20:]))<<16|uint32(binary.LittleEndian.Uint16(dotdot[26:])) == rootCluster {
				clear(dotdot[20:22])
				clear(dotdot[26:28])
				if _, err := f.f.WriteAt(dotdot, at); err != nil {
					return fmt.Errorf("boot partition: %w", err)
				}
			}
		}
	}

	var free uint32
	nextFree := uint32(0xffffffff)
	for c := uint32(2); valid(c); c++ {
		if next(c) == 0 {
			free++
			if nextFree == 0xffffffff {
				nextFree = c
			}
		}
	}
	info := make([]byte, 512)
	infoAt := base + fsInfoSector*bps
	if _, err := f.f.ReadAt(info, infoAt); err != nil {
		return err
	}
	if string(info[:4]) != "RRaA" || string(info[484:488]) != "rrAa" {
		return nil // no FSInfo sector to keep right
	}
	binary.LittleEndian.PutUint32(info[488:], free)
	binary.LittleEndian.PutUint32(info[492:], nextFree)
	if _, err := f.f.WriteAt(info, infoAt); err != nil {
		return fmt.Errorf("boot partition: %w", err)
	}
	return nil
}
