//go:build !purego

package kern

func packF(*FWeights) {}

func fgemmAsm(int, []float32, int, *FWeights, []float32, float32, float32, []float32, int) bool {
	return false
}

func packQDW(*QDWWeights) {}

func qdwAsm(int, []byte, *DWTaps, []byte, byte, *QDWWeights, *QEpilogue, []byte, int) bool {
	return false
}

func packFDW(*FDWWeights) {}

func fdwAsm(int, []float32, *DWTaps, []float32, *FDWWeights, []float32, float32, float32, []float32, int) bool {
	return false
}
