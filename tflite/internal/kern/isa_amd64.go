//go:build !purego

package kern

import "golang.org/x/sys/cpu"

func detectLevels() []isa {
	l := []isa{isaGo}
	x := &cpu.X86
	if x.HasAVX2 && x.HasFMA && x.HasBMI2 {
		l = append(l, isaAVX2)
		if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI {
			l = append(l, isaAVX512)
		}
	}
	return l
}
