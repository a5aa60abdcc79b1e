package kern

// Portable builds have no assembly kernels.

func packQ(*QWeights) []int8 { return nil }

func qgemmAsm(int, []byte, int, byte, *QWeights, *QEpilogue, []byte, int) bool { return false }

func packF(*FWeights) []float32 { return nil }

func fgemmAsm(int, []float32, int, *FWeights, []float32, float32, float32, []float32, int) bool {
	return false
}

func qdwAsm(int, []byte, *DWTaps, []byte, byte, *QDWWeights, *QEpilogue, []byte, int) bool {
	return false
}

func fdwAsm(int, []float32, *DWTaps, []float32, int, []float32, float32, float32, []float32, int) bool {
	return false
}
