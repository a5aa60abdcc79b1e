package trainer

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"unsafe"

	"github.com/edgeclass/edgeclass/internal/parallel"
	"github.com/edgeclass/edgeclass/internal/progress"
	"github.com/edgeclass/edgeclass/tflite"
)

// Stage 2: the top of the backbone is trained together with the head, at a
// lower learning rate. The part below is frozen, so its output (the "cut"
// tensor) is computed once per image and view and cached like the features;
// training runs forward and backward passes, in plain Go, through the top
// part only. It supports what the tops of MobileNets are made of: 1x1
// convolutions, depthwise convolutions, residual additions, ReLU and ReLU6,
// and global average pooling.

// FineTuneConfig configures stage 2.
type FineTuneConfig struct {
	Layers       int     `json:"layers"`        // top convolution layers to train; 0 turns stage 2 off
	Epochs       int     `json:"epochs"`        // at most this many epochs
	LearningRate float64 `json:"learning_rate"` // peak rate (cosine decay), for all trained weights
	Patience     int     `json:"patience"`
}

// DefaultFineTune is off; with Layers set these are the other settings.
var DefaultFineTune = FineTuneConfig{Epochs: 8, LearningRate: 1e-4, Patience: 3}

// Check validates the configuration.
func (c FineTuneConfig) Check() error {
	switch {
	case c.Layers < 0:
		return fmt.Errorf("fine-tune: layers %d < 0", c.Layers)
	case c.Layers > 0 && c.Epochs < 1:
		return fmt.Errorf("fine-tune: epochs %d < 1", c.Epochs)
	case c.Layers > 0 && !(c.LearningRate > 0 && c.LearningRate < 1):
		return fmt.Errorf("fine-tune: learning rate %v out of range (0, 1)", c.LearningRate)
	}
	return nil
}

// topNet is the trainable top of a float backbone: the operators from the
// cut tensor to the feature tensor.
type topNet struct {
	model  *tflite.Model
	cut    int // tensor index of the top's only input
	feat   int
	ops    []tflite.Operator
	params []*tparam // trainable constants, in operator order
	byT    map[int]*tparam
	trains int // convolution layers trained
}

// tparam is a trainable constant tensor: its values, gradient and Adam
// state.
type tparam struct {
	tensor int
	w, g   []float32
	opt    *adam
}

// newTopNet cuts the float backbone below its top `layers` convolution
// layers, at the nearest tensor below them that is the only input of
// everything above it.
func newTopNet(m *tflite.Model, layers int) (*topNet, error) {
	sg := m.Main()
	feat := sg.Outputs[0]
	var convs []int
	for i, op := range sg.Operators {
		if op.Op == tflite.OpConv2D || op.Op == tflite.OpDepthwiseConv2D {
			convs = append(convs, i)
		}
	}
	if layers > len(convs) {
		return nil, fmt.Errorf("fine-tune: the backbone has %d convolution layers, %d requested", len(convs), layers)
	}
	first := convs[len(convs)-layers]
	isConst := func(t int) bool { return len(m.Buffers[sg.Tensors[t].Buffer]) > 0 }
	start, cut := -1, -1
	for k := first; k >= 0 && start < 0; k-- {
		produced := map[int]bool{}
		ext := map[int]bool{}
		for _, op := range sg.Operators[k:] {
			for _, t := range op.Inputs {
				if t >= 0 && !isConst(t) && !produced[t] {
					ext[t] = true
				}
			}
			for _, t := range op.Outputs {
				produced[t] = true
			}
		}
		if len(ext) == 1 {
			for t := range ext {
				start, cut = k, t
			}
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("fine-tune: no tensor below the top %d convolution layers feeds all of them", layers)
	}
	n := &topNet{model: m, cut: cut, feat: feat, ops: sg.Operators[start:], byT: map[int]*tparam{}}
	for _, op := range n.ops {
		if err := CheckTopOp(sg, op); err != nil {
			return nil, fmt.Errorf("fine-tune: %s: %w (choose fewer layers)", op.Op, err)
		}
		if op.Op == tflite.OpConv2D || op.Op == tflite.OpDepthwiseConv2D {
			n.trains++
			for _, t := range op.Inputs[1:] {
				if t < 0 {
					continue
				}
				w := slices.Clone(asFloats(m.Buffers[sg.Tensors[t].Buffer]))
				p := &tparam{tensor: t, w: w, g: make([]float32, len(w)), opt: newAdam(len(w))}
				n.params = append(n.params, p)
				n.byT[t] = p
			}
		}
	}
	return n, nil
}

// CheckTopOp reports whether stage-2 fine-tuning can train op: the
// operators of a MobileNet-style top that the training code implements.
func CheckTopOp(sg *tflite.Subgraph, op tflite.Operator) error {
	shape := func(i int) []int { return sg.Tensors[op.Inputs[i]].Shape }
	act := func(a tflite.Activation) error {
		if a != tflite.ActNone && a != tflite.ActRelu && a != tflite.ActRelu6 {
			return fmt.Errorf("activation %s is not supported", a)
		}
		return nil
	}
	switch op.Op {
	case tflite.OpConv2D:
		o := op.Options.(*tflite.Conv2DOptions)
		if w := shape(1); w[1] != 1 || w[2] != 1 || o.StrideW != 1 || o.StrideH != 1 {
			return fmt.Errorf("only 1x1 convolutions with stride 1 are supported, not %v stride %d", w, o.StrideW)
		}
		return act(o.Activation)
	case tflite.OpDepthwiseConv2D:
		o := op.Options.(*tflite.DepthwiseConv2DOptions)
		if o.DepthMultiplier > 1 || o.DilationW > 1 || o.DilationH > 1 {
			return fmt.Errorf("depth multipliers and dilations are not supported")
		}
		return act(o.Activation)
	case tflite.OpAdd:
		if !slices.Equal(shape(0), shape(1)) {
			return fmt.Errorf("broadcasting is not supported")
		}
		return act(op.Options.(*tflite.ActivationOptions).Activation)
	case tflite.OpAveragePool2D:
		o := op.Options.(*tflite.Pool2DOptions)
		if s := shape(0); o.FilterH != s[1] || o.FilterW != s[2] || o.Padding != tflite.PaddingValid {
			return fmt.Errorf("only global average pooling is supported")
		}
		return act(o.Activation)
	case tflite.OpMean:
		if s := sg.Tensors[op.Outputs[0]].Shape; len(shape(0)) != 4 || !isFeatureShape(s) {
			return fmt.Errorf("only a mean over height and width is supported")
		}
		return nil
	case tflite.OpReshape, tflite.OpSqueeze:
		return nil
	}
	return fmt.Errorf("the operator is not supported")
}

// asFloats views 16-byte aligned little-endian float32 bytes.
func asFloats(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// batch holds the activations of one batch: tensor index -> values of all
// examples, one after the other.
type batch struct {
	n    int
	vals map[int][]float32
	grad map[int][]float32
}

func (n *topNet) elems(t int) int {
	c := 1
	for _, d := range n.model.Main().Tensors[t].Shape {
		c *= d
	}
	return c
}

func (n *topNet) weights(t int) []float32 {
	if p := n.byT[t]; p != nil {
		return p.w
	}
	return asFloats(n.model.Buffers[n.model.Main().Tensors[t].Buffer])
}

// forward computes the features of a batch of cut activations (x holds
// b.n examples back to back).
func (n *topNet) forward(x []float32, bn int) *batch {
	b := &batch{n: bn, vals: map[int][]float32{n.cut: x}, grad: map[int][]float32{}}
	sg := n.model.Main()
	for _, op := range n.ops {
		out := op.Outputs[0]
		in := b.vals[op.Inputs[0]]
		var y []float32
		switch op.Op {
		case tflite.OpConv2D:
			o := op.Options.(*tflite.Conv2DOptions)
			w := sg.Tensors[op.Inputs[1]].Shape
			y = make([]float32, bn*n.elems(out))
			matMulT(y, in, n.weights(op.Inputs[1]), len(in)/w[3], w[3], w[0])
			n.biasAct(y, op, w[0], o.Activation)
		case tflite.OpDepthwiseConv2D:
			o := op.Options.(*tflite.DepthwiseConv2DOptions)
			g := dwGeom(sg, op, o)
			y = make([]float32, bn*n.elems(out))
			parallelRange(bn, func(lo, hi int) {
				for e := lo; e < hi; e++ {
					g.forward(y[e*g.outN():(e+1)*g.outN()], in[e*g.inN():(e+1)*g.inN()], n.weights(op.Inputs[1]))
				}
			})
			n.biasAct(y, op, g.c, o.Activation)
		case tflite.OpAdd:
			a, c := in, b.vals[op.Inputs[1]]
			y = make([]float32, len(a))
			for i := range y {
				y[i] = a[i] + c[i]
			}
			applyAct(y, op.Options.(*tflite.ActivationOptions).Activation)
		case tflite.OpAveragePool2D, tflite.OpMean:
			s := sg.Tensors[op.Inputs[0]].Shape
			hw, c := s[1]*s[2], s[3]
			y = make([]float32, bn*c)
			for e := 0; e < bn; e++ {
				for p := 0; p < hw; p++ {
					axpy(1, in[(e*hw+p)*c:(e*hw+p+1)*c], y[e*c:(e+1)*c])
				}
			}
			for i := range y {
				y[i] /= float32(hw)
			}
			if op.Op == tflite.OpAveragePool2D {
				applyAct(y, op.Options.(*tflite.Pool2DOptions).Activation)
			}
		case tflite.OpReshape, tflite.OpSqueeze:
			y = in
		}
		b.vals[out] = y
	}
	return b
}

// biasAct adds the bias (input 2, if any) per channel and applies the
// activation.
func (n *topNet) biasAct(y []float32, op tflite.Operator, c int, a tflite.Activation) {
	if len(op.Inputs) > 2 && op.Inputs[2] >= 0 {
		bias := n.weights(op.Inputs[2])
		for i := 0; i < len(y); i += c {
			axpy(1, bias, y[i:i+c])
		}
	}
	applyAct(y, a)
}

func applyAct(y []float32, a tflite.Activation) {
	switch a {
	case tflite.ActRelu:
		for i, v := range y {
			y[i] = max(v, 0)
		}
	case tflite.ActRelu6:
		for i, v := range y {
			y[i] = min(max(v, 0), 6)
		}
	}
}

// actGrad zeroes the gradient where the activation clipped its output.
func actGrad(g, y []float32, a tflite.Activation) {
	switch a {
	case tflite.ActRelu:
		for i, v := range y {
			if v <= 0 {
				g[i] = 0
			}
		}
	case tflite.ActRelu6:
		for i, v := range y {
			if v <= 0 || v >= 6 {
				g[i] = 0
			}
		}
	}
}

// backward propagates the gradient of the features (gFeat) down to the
// cut, accumulating the parameters' gradients.
func (n *topNet) backward(b *batch, gFeat []float32) {
	sg := n.model.Main()
	b.grad[n.feat] = gFeat
	addGrad := func(t int, g []float32) {
		if old, ok := b.grad[t]; ok {
			for i := range old {
				old[i] += g[i]
			}
			return
		}
		b.grad[t] = g
	}
	for k := len(n.ops) - 1; k >= 0; k-- {
		op := n.ops[k]
		out := op.Outputs[0]
		gy := b.grad[out]
		if gy == nil {
			continue
		}
		y, x := b.vals[out], b.vals[op.Inputs[0]]
		needX := op.Inputs[0] != n.cut
		switch op.Op {
		case tflite.OpConv2D:
			o := op.Options.(*tflite.Conv2DOptions)
			actGrad(gy, y, o.Activation)
			w := sg.Tensors[op.Inputs[1]].Shape
			cout, cin := w[0], w[3]
			m := len(x) / cin
			n.biasGrad(op, gy, cout)
			matMulAccT(n.byT[op.Inputs[1]].g, gy, x, m, cout, cin)
			if needX {
				gx := make([]float32, len(x))
				matMul(gx, gy, n.weights(op.Inputs[1]), m, cout, cin)
				addGrad(op.Inputs[0], gx)
			}
		case tflite.OpDepthwiseConv2D:
			o := op.Options.(*tflite.DepthwiseConv2DOptions)
			actGrad(gy, y, o.Activation)
			g := dwGeom(sg, op, o)
			n.biasGrad(op, gy, g.c)
			var gx []float32
			if needX {
				gx = make([]float32, len(x))
			}
			w := n.weights(op.Inputs[1])
			// Per-worker weight gradients, summed after.
			parts := make([][]float32, workers())
			parallelChunks(b.n, func(part, lo, hi int) {
				gw := make([]float32, len(w))
				for e := lo; e < hi; e++ {
					var gxe []float32
					if gx != nil {
						gxe = gx[e*g.inN() : (e+1)*g.inN()]
					}
					g.backward(gy[e*g.outN():(e+1)*g.outN()], x[e*g.inN():(e+1)*g.inN()], w, gw, gxe)
				}
				parts[part] = gw
			})
			acc := n.byT[op.Inputs[1]].g
			for _, gw := range parts {
				if gw != nil {
					axpy(1, gw, acc)
				}
			}
			if gx != nil {
				addGrad(op.Inputs[0], gx)
			}
		case tflite.OpAdd:
			actGrad(gy, y, op.Options.(*tflite.ActivationOptions).Activation)
			for _, in := range op.Inputs[:2] {
				if in != n.cut {
					addGrad(in, slices.Clone(gy))
				}
			}
		case tflite.OpAveragePool2D, tflite.OpMean:
			if op.Op == tflite.OpAveragePool2D {
				actGrad(gy, y, op.Options.(*tflite.Pool2DOptions).Activation)
			}
			if needX {
				s := sg.Tensors[op.Inputs[0]].Shape
				hw, c := s[1]*s[2], s[3]
				gx := make([]float32, len(x))
				for e := 0; e < b.n; e++ {
					for p := 0; p < hw; p++ {
						axpy(1/float32(hw), gy[e*c:(e+1)*c], gx[(e*hw+p)*c:(e*hw+p+1)*c])
					}
				}
				addGrad(op.Inputs[0], gx)
			}
		case tflite.OpReshape, tflite.OpSqueeze:
			if needX {
				addGrad(op.Inputs[0], gy)
			}
		}
	}
}

func (n *topNet) biasGrad(op tflite.Operator, gy []float32, c int) {
	if len(op.Inputs) < 3 || op.Inputs[2] < 0 {
		return
	}
	g := n.byT[op.Inputs[2]].g
	for i := 0; i < len(gy); i += c {
		axpy(1, gy[i:i+c], g)
	}
}

// dwConv is the geometry of a depthwise convolution (TFLite padding).
type dwConv struct {
	h, w, c, oh, ow, kh, kw, sh, sw, padT, padL int
}

func dwGeom(sg *tflite.Subgraph, op tflite.Operator, o *tflite.DepthwiseConv2DOptions) dwConv {
	in, out, k := sg.Tensors[op.Inputs[0]].Shape, sg.Tensors[op.Outputs[0]].Shape, sg.Tensors[op.Inputs[1]].Shape
	g := dwConv{h: in[1], w: in[2], c: in[3], oh: out[1], ow: out[2], kh: k[1], kw: k[2], sh: o.StrideH, sw: o.StrideW}
	if o.Padding == tflite.PaddingSame {
		g.padT = max(0, ((g.oh-1)*g.sh+g.kh-g.h)/2)
		g.padL = max(0, ((g.ow-1)*g.sw+g.kw-g.w)/2)
	}
	return g
}

func (g dwConv) inN() int  { return g.h * g.w * g.c }
func (g dwConv) outN() int { return g.oh * g.ow * g.c }

// taps calls fn for every (output pixel, input pixel, kernel tap) the
// convolution multiplies, with the offsets of their channel vectors.
func (g dwConv) taps(fn func(out, in, tap int)) {
	for oy := 0; oy < g.oh; oy++ {
		for ox := 0; ox < g.ow; ox++ {
			out := (oy*g.ow + ox) * g.c
			for ky := 0; ky < g.kh; ky++ {
				iy := oy*g.sh + ky - g.padT
				if iy < 0 || iy >= g.h {
					continue
				}
				for kx := 0; kx < g.kw; kx++ {
					ix := ox*g.sw + kx - g.padL
					if ix < 0 || ix >= g.w {
						continue
					}
					fn(out, (iy*g.w+ix)*g.c, (ky*g.kw+kx)*g.c)
				}
			}
		}
	}
}

// forward computes one example (without bias).
func (g dwConv) forward(y, x, w []float32) {
	g.taps(func(out, in, tap int) {
		dst, src, k := y[out:out+g.c], x[in:in+g.c], w[tap:tap+g.c]
		for ch := range dst {
			dst[ch] += src[ch] * k[ch]
		}
	})
}

// backward accumulates the weight gradient into gw and, when gx is not
// nil, the input gradient into gx, for one example.
func (g dwConv) backward(gy, x, w, gw, gx []float32) {
	g.taps(func(out, in, tap int) {
		d, src := gy[out:out+g.c], x[in:in+g.c]
		k, gk := w[tap:tap+g.c], gw[tap:tap+g.c]
		for ch := range d {
			gk[ch] += d[ch] * src[ch]
		}
		if gx != nil {
			gs := gx[in : in+g.c]
			for ch := range d {
				gs[ch] += d[ch] * k[ch]
			}
		}
	})
}

// workers is the number of goroutines the matrix loops use: one per CPU Go
// may use. Sums over the batch are split by it, so results are reproducible
// on machines with the same number of CPUs.
func workers() int { return runtime.GOMAXPROCS(0) }

// parallelChunks splits [0, n) into up to workers() chunks.
func parallelChunks(n int, fn func(part, lo, hi int)) { parallel.Split(n, workers(), fn) }

func parallelRange(n int, fn func(lo, hi int)) {
	parallelChunks(n, func(_, lo, hi int) { fn(lo, hi) })
}

// The 1x1 convolutions are matrix products, all computed by gemmNT in the
// form c[i][j] = sum_k a[i][k] * b[j][k] (both operands with k contiguous),
// with transposes where the natural layout differs.

// matMulT computes y[m][o] = sum_k x[m][k] * w[o][k].
func matMulT(y, x, w []float32, rows, k, outs int) {
	gemmNT(y, x, w, rows, outs, k, false)
}

// matMul computes gx[m][k] = sum_o gy[m][o] * w[o][k].
func matMul(gx, gy, w []float32, rows, outs, k int) {
	gemmNT(gx, gy, transpose(w, outs, k), rows, k, outs, false)
}

// matMulAccT accumulates gw[o][k] += sum_m gy[m][o] * x[m][k].
func matMulAccT(gw, gy, x []float32, rows, outs, k int) {
	gemmNT(gw, transpose(gy, rows, outs), transpose(x, rows, k), outs, k, rows, true)
}

// transpose returns the cols x rows transpose of a rows x cols matrix.
func transpose(a []float32, rows, cols int) []float32 {
	t := make([]float32, rows*cols)
	const blk = 32
	for r0 := 0; r0 < rows; r0 += blk {
		for c0 := 0; c0 < cols; c0 += blk {
			for r := r0; r < min(r0+blk, rows); r++ {
				for c := c0; c < min(c0+blk, cols); c++ {
					t[c*rows+r] = a[r*cols+c]
				}
			}
		}
	}
	return t
}

// gemmNT computes (or with acc, adds to) c[i][j] = sum_k a[i][k] * b[j][k]
// for i < n, j < m. It works on 2x4 tiles of c, so each loaded value of a
// and b serves several products, and splits the rows of c over workers.
func gemmNT(c, a, b []float32, n, m, k int, acc bool) {
	parallelRange((n+1)/2, func(lo, hi int) {
		for i := 2 * lo; i < min(2*hi, n); i += 2 {
			a0 := a[i*k : (i+1)*k]
			a1 := a0
			if i+1 < n {
				a1 = a[(i+1)*k : (i+2)*k]
			}
			j := 0
			for ; j+4 <= m; j += 4 {
				b0, b1, b2, b3 := b[j*k:(j+1)*k], b[(j+1)*k:(j+2)*k], b[(j+2)*k:(j+3)*k], b[(j+3)*k:(j+4)*k]
				// Equal lengths let the compiler drop bounds checks.
				a1, b0, b1, b2, b3 := a1[:len(a0)], b0[:len(a0)], b1[:len(a0)], b2[:len(a0)], b3[:len(a0)]
				var s00, s01, s02, s03, s10, s11, s12, s13 float32
				for p := range a0 {
					x0, x1 := a0[p], a1[p]
					y0, y1, y2, y3 := b0[p], b1[p], b2[p], b3[p]
					s00 += x0 * y0
					s01 += x0 * y1
					s02 += x0 * y2
					s03 += x0 * y3
					s10 += x1 * y0
					s11 += x1 * y1
					s12 += x1 * y2
					s13 += x1 * y3
				}
				store4(c[i*m+j:i*m+j+4], s00, s01, s02, s03, acc)
				if i+1 < n {
					store4(c[(i+1)*m+j:(i+1)*m+j+4], s10, s11, s12, s13, acc)
				}
			}
			for ; j < m; j++ {
				bj := b[j*k : (j+1)*k]
				s0, s1 := dot(a0, bj), dot(a1, bj)
				if !acc {
					c[i*m+j] = 0
					if i+1 < n {
						c[(i+1)*m+j] = 0
					}
				}
				c[i*m+j] += s0
				if i+1 < n {
					c[(i+1)*m+j] += s1
				}
			}
		}
	})
}

func store4(c []float32, s0, s1, s2, s3 float32, acc bool) {
	if acc {
		c[0] += s0
		c[1] += s1
		c[2] += s2
		c[3] += s3
		return
	}
	c[0], c[1], c[2], c[3] = s0, s1, s2, s3
}

// fineTune trains the top net and the head together on cut activations,
// starting from the stage-1 head, and keeps the epoch with the lowest
// validation loss. It returns the trained weights written into a copy of
// the float model, with the head.
func fineTune(n *topNet, h *Head, train, val examples, cfg FineTuneConfig, hc HeadConfig, seed uint64, log io.Writer) (*tflite.Model, *Head, []Epoch, int, error) {
	if err := cfg.Check(); err != nil {
		return nil, nil, nil, 0, err
	}
	classes, dim := h.Classes, h.Dim
	head := &Head{Classes: classes, Dim: dim, W: slices.Clone(h.W), B: slices.Clone(h.B)}
	hw := &tparam{w: head.W, g: make([]float32, len(head.W)), opt: newAdam(len(head.W))}
	hb := &tparam{w: head.B, g: make([]float32, len(head.B)), opt: newAdam(len(head.B))}
	all := append(slices.Clone(n.params), hw, hb)
	snapshot := func() [][]float32 {
		s := make([][]float32, len(all))
		for i, p := range all {
			s[i] = slices.Clone(p.w)
		}
		return s
	}
	best := snapshot()
	bestLoss, bestEpoch := math.Inf(1), 0
	// The starting point's validation loss: fine-tuning must beat it.
	if len(val.y) > 0 {
		bestLoss, _ = n.evaluate(head, val, hc.BatchSize)
	}
	rng := rand.New(rand.NewPCG(seed, 0x66696e65))
	cutN := len(train.x[0][0])
	steps := cfg.Epochs * ((len(train.y) + hc.BatchSize - 1) / hc.BatchSize)
	step := 0
	keep := 1 - hc.Dropout
	var history []Epoch
	order := make([]int, len(train.y))
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		for i := range order {
			order[i] = i
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		prog := progress.New(log, fmt.Sprintf("fine-tune %d/%d", epoch, cfg.Epochs), len(order))
		var lossSum float64
		correct := 0
		var lr float64
		for s := 0; s < len(order); s += hc.BatchSize {
			idx := order[s:min(len(order), s+hc.BatchSize)]
			bn := len(idx)
			x := make([]float32, bn*cutN)
			for j, i := range idx {
				views := train.x[i]
				copy(x[j*cutN:], views[rng.IntN(len(views))])
			}
			b := n.forward(x, bn)
			feats := b.vals[n.feat]
			gFeat := make([]float32, len(feats))
			for _, p := range all {
				clear(p.g)
			}
			xd := make([]float32, dim)
			p := make([]float32, classes)
			mask := make([]float32, dim)
			for j, i := range idx {
				f := feats[j*dim : (j+1)*dim]
				for d := range xd {
					mask[d] = 1 / float32(keep)
					if hc.Dropout > 0 && rng.Float64() >= keep {
						mask[d] = 0
					}
					xd[d] = f[d] * mask[d]
				}
				head.Probs(xd, p)
				y := train.y[i]
				if argmax(p) == y {
					correct++
				}
				gf := gFeat[j*dim : (j+1)*dim]
				for k := 0; k < classes; k++ {
					t := hc.LabelSmoothing / float64(classes)
					if k == y {
						t += 1 - hc.LabelSmoothing
					}
					if t > 0 {
						lossSum -= t * math.Log(math.Max(float64(p[k]), 1e-12))
					}
					g := (p[k] - float32(t)) / float32(bn)
					hb.g[k] += g
					axpy(g, xd, hw.g[k*dim:(k+1)*dim])
					axpy(g, head.W[k*dim:(k+1)*dim], gf)
				}
				for d := range gf {
					gf[d] *= mask[d]
				}
			}
			n.backward(b, gFeat)
			step++
			lr = cfg.LearningRate * (0.01 + 0.99*0.5*(1+math.Cos(math.Pi*float64(step-1)/float64(steps))))
			for _, q := range all {
				wd := 0.0
				if q != hb {
					wd = hc.WeightDecay
				}
				q.opt.step(q.w, q.g, step, lr, wd)
			}
			prog.Add(bn, fmt.Sprintf("loss %.4f acc %.4f", lossSum/float64(s+bn), float64(correct)/float64(s+bn)))
		}
		e := Epoch{Epoch: epoch, LR: lr, TrainLoss: lossSum / float64(len(order)), TrainAcc: float64(correct) / float64(len(order))}
		e.ValLoss, e.ValAcc = n.evaluate(head, val, hc.BatchSize)
		history = append(history, e)
		mark := ""
		if len(val.y) == 0 || e.ValLoss < bestLoss-1e-5 {
			bestLoss, bestEpoch, best = e.ValLoss, epoch, snapshot()
			mark = " *best"
		}
		prog.Finish(fmt.Sprintf("loss %.4f acc %.4f  val_loss %.4f val_acc %.4f%s", e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc, mark))
		if len(val.y) > 0 && cfg.Patience > 0 && epoch-bestEpoch >= cfg.Patience {
			if log != nil {
				fmt.Fprintf(log, "fine-tune: early stop; keeping epoch %d\n", bestEpoch)
			}
			break
		}
	}
	for i, p := range all {
		copy(p.w, best[i])
	}
	return n.export(), head, history, bestEpoch, nil
}

// evaluate returns the validation loss and accuracy through the top net.
func (n *topNet) evaluate(h *Head, ex examples, bs int) (float64, float64) {
	if len(ex.y) == 0 {
		return 0, 0
	}
	feats := n.features(ex, bs)
	return h.evaluate(examples{x: wrapViews(feats), y: ex.y})
}

// features runs view 0 of every example through the top net.
func (n *topNet) features(ex examples, bs int) [][]float32 {
	cutN := len(ex.x[0][0])
	var out [][]float32
	for s := 0; s < len(ex.y); s += bs {
		bn := min(bs, len(ex.y)-s)
		x := make([]float32, bn*cutN)
		for j := 0; j < bn; j++ {
			copy(x[j*cutN:], ex.x[s+j][0])
		}
		f := n.forward(x, bn).vals[n.feat]
		d := len(f) / bn
		for j := 0; j < bn; j++ {
			out = append(out, f[j*d:(j+1)*d])
		}
	}
	return out
}

func wrapViews(v [][]float32) [][][]float32 {
	out := make([][][]float32, len(v))
	for i := range v {
		out[i] = [][]float32{v[i]}
	}
	return out
}

// export returns a new float model with the trained weights.
func (n *topNet) export() *tflite.Model {
	m := withOutputs(n.model, n.model.Main().Outputs)
	sg := m.Main()
	for _, p := range n.params {
		m.Buffers[sg.Tensors[p.tensor].Buffer] = tflite.ToBytes(p.w)
	}
	return m
}
