//go:build tflitec && cgo

package engines

import (
	"errors"

	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/engines/tflitec"
	"github.com/edgeclass/edgeclass/tflite"
)

func init() { openC = openTFLiteC }

// tfliteC adapts package tflitec to Select.
type tfliteC struct{ b *tflitec.Backend }

func openTFLiteC(c Config) (cBackend, error) {
	b, err := tflitec.Open(tflitec.Options{Delegate: c.delegate(), DelegateThreads: c.DelegateThreads,
		EdgeTPUDevice: c.EdgeTPUDevice, DelegateLibrary: c.DelegateLibrary})
	if err != nil {
		return nil, unavailable(err)
	}
	return tfliteC{b}, nil
}

// unavailable turns tflitec's missing-delegate error into this package's.
func unavailable(err error) error {
	var ue *tflitec.UnavailableError
	if errors.As(err, &ue) {
		return &UnavailableError{ue.Delegate, ue.Reason}
	}
	return err
}

func (t tfliteC) info() Info {
	return Info{Backend: TFLiteC, Library: t.b.Version(), Active: t.b.Delegate(),
		DelegateLibrary: t.b.DelegateLibrary(), Device: t.b.Device(), Note: t.b.Note()}
}

func (t tfliteC) newEngine(m *tflite.Model, threads int) (classify.Engine, error) {
	e, err := t.b.NewEngine(m, threads)
	if err != nil {
		return nil, unavailable(err)
	}
	return cEngine{e}, nil
}

type cEngine struct{ *tflitec.Engine }

func (e cEngine) placement() Placement {
	p := e.Placement()
	out := Placement{Delegate: p.Delegate, Ops: p.Ops, Known: p.Known, Kernels: p.Names, Text: p.String()}
	if p.Known {
		out.Delegated = p.Delegated()
	}
	return out
}
