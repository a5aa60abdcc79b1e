package kern

// isa is an instruction-set level of the assembly kernels. Packed weights
// record the level they were packed for, so kernels and layouts always
// match even when tests switch levels.
type isa uint8

const (
	isaGo     isa = iota // portable Go
	isaAVX2              // amd64: AVX2, FMA, BMI2
	isaAVX512            // amd64: AVX-512 F, BW, VL and VNNI
	isaNEON              // arm64: Advanced SIMD
	isaDot               // arm64: Advanced SIMD with the dot-product extension
)

func (l isa) String() string {
	return [...]string{"go", "avx2", "avx512vnni", "neon", "neondot"}[l]
}

// levels lists the levels this CPU can run, from portable Go up.
var levels = detectLevels()

// level is the level new weights are packed for and unpacked kernels run
// at: the best this CPU has. Tests lower it.
var level = levels[len(levels)-1]
