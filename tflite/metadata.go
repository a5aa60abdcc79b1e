package tflite

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MetadataName is the name of the metadata entry holding TFLite model
// metadata (metadata_schema.fbs, file identifier "M001").
const MetadataName = "TFLITE_METADATA"

// ModelInfo is what the TFLITE_METADATA record says about a model.
type ModelInfo struct {
	Name, Description, Version, Author, License string
	Inputs, Outputs                             []TensorInfo // of subgraph 0
	Files                                       []AssociatedFile
}

// TensorInfo is the metadata of one input or output tensor.
type TensorInfo struct {
	Name, Description string
	// Mean and Std are the normalization the model expects:
	// value = (pixel - Mean[c]) / Std[c]; one value applies to all channels.
	Mean, Std []float32
	Min, Max  []float32
	Files     []AssociatedFile
}

// AssociatedFile names a file in the zip appended to the model.
type AssociatedFile struct {
	Name, Description, Locale string
	Type                      FileType
}

// FileType says what an associated file holds (AssociatedFileType).
type FileType int8

// Associated file types.
const (
	FileUnknown          FileType = 0
	FileDescriptions     FileType = 1
	FileTensorAxisLabels FileType = 2
	FileTensorValueLabel FileType = 3
	FileScoreCalibration FileType = 4
	FileVocabulary       FileType = 5
)

// Limits on the zip of associated files, against zip bombs.
const (
	maxAssociatedFiles = 256
	maxAssociatedBytes = 64 << 20
)

func (m *Model) loadMetadata() error {
	for _, md := range m.Metadata {
		if md.Name != MetadataName {
			continue
		}
		info, err := parseModelInfo(m.Buffers[md.Buffer])
		if err != nil {
			return err
		}
		m.Info = info
		break
	}
	files, err := readAppendedZip(m.raw)
	if err != nil {
		return fmt.Errorf("associated files: %w", err)
	}
	m.Files = files
	return nil
}

func parseModelInfo(data []byte) (*ModelInfo, error) {
	if len(data) < 8 || string(data[4:8]) != "M001" {
		return nil, fmt.Errorf("%s buffer is not a metadata flatbuffer (identifier M001)", MetadataName)
	}
	r := newFBReader(data)
	root := r.root()
	info := &ModelInfo{
		Name: r.str(root, 0), Description: r.str(root, 1), Version: r.str(root, 2),
		Author: r.str(root, 4), License: r.str(root, 5),
		Files: parseFiles(r, r.tables(root, 6)),
	}
	if sgs := r.tables(root, 3); len(sgs) > 0 {
		info.Inputs = parseTensorInfos(r, r.tables(sgs[0], 2))
		info.Outputs = parseTensorInfos(r, r.tables(sgs[0], 3))
		info.Files = append(info.Files, parseFiles(r, r.tables(sgs[0], 4))...)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%s: %w", MetadataName, r.err)
	}
	return info, nil
}

func parseTensorInfos(r *fbReader, ts []fbTable) []TensorInfo {
	var out []TensorInfo
	for _, t := range ts {
		ti := TensorInfo{Name: r.str(t, 0), Description: r.str(t, 1), Files: parseFiles(r, r.tables(t, 6))}
		for _, pu := range r.tables(t, 4) {
			const normalizationOptions = 1
			if r.u8(pu, 0, 0) != normalizationOptions {
				continue
			}
			if nt, ok := r.table(pu, 1); ok {
				ti.Mean, ti.Std = r.float32s(nt, 0), r.float32s(nt, 1)
			}
		}
		if st, ok := r.table(t, 5); ok {
			ti.Max, ti.Min = r.float32s(st, 0), r.float32s(st, 1)
		}
		out = append(out, ti)
	}
	return out
}

func parseFiles(r *fbReader, ts []fbTable) []AssociatedFile {
	var out []AssociatedFile
	for _, t := range ts {
		out = append(out, AssociatedFile{
			Name: r.str(t, 0), Description: r.str(t, 1), Type: FileType(int8(r.u8(t, 2, 0))), Locale: r.str(t, 3),
		})
	}
	return out
}

// readAppendedZip returns the files of a zip archive that ends the file, or
// nil when the file does not end with one.
func readAppendedZip(raw []byte) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if errors.Is(err, zip.ErrFormat) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(zr.File) > maxAssociatedFiles {
		return nil, fmt.Errorf("%d files in the appended zip exceed the limit of %d", len(zr.File), maxAssociatedFiles)
	}
	files := make(map[string][]byte)
	budget := int64(maxAssociatedBytes)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, budget+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		budget -= int64(len(data))
		if budget < 0 {
			return nil, fmt.Errorf("appended zip holds more than %d bytes", maxAssociatedBytes)
		}
		files[f.Name] = data
	}
	return files, nil
}

// Labels returns the class labels of output 0: the TENSOR_AXIS_LABELS file
// the metadata names, or else the only .txt file in the appended zip. It
// returns nil when the model carries no labels.
func (m *Model) Labels() []string {
	var name string
	if m.Info != nil {
		var cands []AssociatedFile
		if len(m.Info.Outputs) > 0 {
			cands = append(cands, m.Info.Outputs[0].Files...)
		}
		cands = append(cands, m.Info.Files...)
		for _, f := range cands {
			if f.Type == FileTensorAxisLabels {
				if _, ok := m.Files[f.Name]; ok {
					name = f.Name
					break
				}
			}
		}
	}
	if name == "" {
		for n := range m.Files {
			if strings.HasSuffix(n, ".txt") {
				if name != "" {
					return nil // ambiguous
				}
				name = n
			}
		}
	}
	if name == "" {
		return nil
	}
	return SplitLabels(m.Files[name])
}

// SplitLabels splits a labels file into lines, dropping a trailing empty
// line and carriage returns.
func SplitLabels(data []byte) []string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
