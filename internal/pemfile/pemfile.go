// Package pemfile reads and writes the PEM files of keys and certificates.
package pemfile

import (
	"encoding/pem"
	"fmt"
	"os"
)

// Read returns the bytes of the first PEM block in path, which must be of
// the given type.
func Read(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("%s: no PEM %q block", path, typ)
	}
	return block.Bytes, nil
}

// WriteNew writes a file that must not exist yet: keys are never
// overwritten by accident.
func WriteNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
