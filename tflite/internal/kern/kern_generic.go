//go:build purego || !(amd64 || arm64)

package kern

import "unsafe"

// Portable builds have no assembly kernels.

func detectLevels() []isa { return []isa{isaGo} }

func packQ(*QWeights) {}

func qgemmAsm(int, []byte, int, byte, *QWeights, *QEpilogue, []byte, int) bool { return false }

func packF(*FWeights) {}

func fgemmAsm(int, []float32, int, *FWeights, []float32, float32, float32, []float32, int) bool {
	return false
}

func packQDW(*QDWWeights) {}

func qdwAsm(int, []uintptr, byte, *QDWWeights, *QEpilogue, []byte, int) int { return 0 }

func packFDW(*FDWWeights) {}

func fdwAsm(int, []uintptr, *FDWWeights, []float32, float32, float32, []float32, int) int {
	return 0
}

func gatherAsm(unsafe.Pointer, int, []uintptr, int, int, int) bool { return false }

func qaddAsm([]byte, []byte, []byte, *QAddParams, bool) int { return 0 }
