package tflite

import (
	"fmt"
	"os"
	"sync"
)

// Model is a parsed and validated .tflite file. It is read-only after
// loading and may be shared by any number of interpreters.
type Model struct {
	Version     uint32
	Description string
	Subgraphs   []Subgraph
	// Buffers holds the constant data of buffer i (nil when empty). Slices
	// alias the file's bytes, or aligned copies of them.
	Buffers    [][]byte
	Metadata   []MetadataRef
	Signatures []Signature

	// Info is the parsed TFLITE_METADATA record, nil when the file has none.
	Info *ModelInfo
	// Files are the associated files zipped after the flatbuffer (labels,
	// vocabularies), by name.
	Files map[string][]byte

	raw   []byte
	cache opCache
}

// Subgraph is one graph of the model; subgraph 0 is the one that runs.
type Subgraph struct {
	Name      string
	Tensors   []TensorDef
	Inputs    []int
	Outputs   []int
	Operators []Operator
}

// TensorDef describes a tensor as the file declares it.
type TensorDef struct {
	Name           string
	Type           TensorType
	Shape          []int
	ShapeSignature []int
	Buffer         int
	Quant          *Quantization // nil when the tensor is not quantized
	IsVariable     bool
}

// Quantization holds affine quantization parameters: real = Scale*(q-ZeroPoint).
// With more than one scale the tensor is quantized per axis along Dim.
type Quantization struct {
	Scale     []float32
	ZeroPoint []int64
	Dim       int
	Min, Max  []float32
}

// PerAxis reports whether the parameters differ along an axis.
func (q *Quantization) PerAxis() bool { return q != nil && len(q.Scale) > 1 }

// Operator is one node of a graph.
type Operator struct {
	Op      BuiltinOp
	Custom  string // the custom code when Op is OpCustom
	Version int
	Inputs  []int // -1 marks an omitted optional input
	Outputs []int
	// Options is one of the *...Options types of options.go, or nil when the
	// operator has none (or none this package reads).
	Options       any
	CustomOptions []byte
}

// MetadataRef names a buffer that holds metadata.
type MetadataRef struct {
	Name   string
	Buffer int
}

// Signature is a named entry point (SignatureDef).
type Signature struct {
	Key      string
	Subgraph int
	Inputs   []SignatureTensor
	Outputs  []SignatureTensor
}

// SignatureTensor maps a signature's alias to a tensor index.
type SignatureTensor struct {
	Name   string
	Tensor int
}

// Limits bound what a model file may ask for. The zero value means the
// defaults, which admit every real classifier by a wide margin.
type Limits struct {
	MaxTensors     int   // per subgraph
	MaxOperators   int   // per subgraph
	MaxRank        int   // dimensions per tensor
	MaxTensorBytes int64 // bytes of one tensor
	MaxArenaBytes  int64 // bytes of all activations of one interpreter
}

// DefaultLimits are used where Limits fields are zero.
var DefaultLimits = Limits{
	MaxTensors:     1 << 16,
	MaxOperators:   1 << 16,
	MaxRank:        8,
	MaxTensorBytes: 1 << 30,
	MaxArenaBytes:  2 << 30,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxTensors > 0 {
		d.MaxTensors = l.MaxTensors
	}
	if l.MaxOperators > 0 {
		d.MaxOperators = l.MaxOperators
	}
	if l.MaxRank > 0 {
		d.MaxRank = l.MaxRank
	}
	if l.MaxTensorBytes > 0 {
		d.MaxTensorBytes = l.MaxTensorBytes
	}
	if l.MaxArenaBytes > 0 {
		d.MaxArenaBytes = l.MaxArenaBytes
	}
	return d
}

// LoadFile reads and parses a .tflite file.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	m, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Load parses a .tflite file held in memory with the default limits. The
// model keeps references to data, which must not be changed afterwards.
func Load(data []byte) (*Model, error) { return LoadWithLimits(data, Limits{}) }

// LoadWithLimits is Load with explicit limits.
func LoadWithLimits(data []byte, lim Limits) (*Model, error) {
	lim = lim.withDefaults()
	m, err := parseModel(data, lim)
	if err != nil {
		return nil, fmt.Errorf("parse model: %w", err)
	}
	if err := m.validate(lim); err != nil {
		return nil, fmt.Errorf("invalid model: %w", err)
	}
	if err := m.loadMetadata(); err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	return m, nil
}

// Main returns subgraph 0, the graph that runs.
func (m *Model) Main() *Subgraph { return &m.Subgraphs[0] }

// Raw returns the file's bytes.
func (m *Model) Raw() []byte { return m.raw }

// Data returns the constant data of tensor t in the main subgraph, or nil.
func (m *Model) Data(t int) []byte {
	return m.Buffers[m.Main().Tensors[t].Buffer]
}

// opCache keeps per-operator state derived from constant data (packed
// weights, multipliers), built once per model and shared by interpreters.
type opCache struct {
	mu      sync.Mutex
	entries map[int]*cacheEntry
}

type cacheEntry struct {
	once sync.Once
	val  any
	err  error
}

// cached returns build()'s result for operator op, building it only once.
func (m *Model) cached(op int, build func() (any, error)) (any, error) {
	m.cache.mu.Lock()
	if m.cache.entries == nil {
		m.cache.entries = make(map[int]*cacheEntry)
	}
	e := m.cache.entries[op]
	if e == nil {
		e = &cacheEntry{}
		m.cache.entries[op] = e
	}
	m.cache.mu.Unlock()
	e.once.Do(func() { e.val, e.err = build() })
	return e.val, e.err
}
