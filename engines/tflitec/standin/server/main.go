// Command tflite-standin-server runs models for the TensorFlow Lite C library
// stand-in (../runtime.c, built by ../build.sh) on edgeclass's pure-Go engine.
// It is a separate process because the stand-in is loaded into Go programs,
// and a Go c-shared library there would be a second Go runtime in one
// process, which Go does not support.
//
// The stand-in starts one server per interpreter and talks to it over the
// Unix socket at file descriptor 3. Messages are native little-endian;
// strings are a uint32 length and the bytes:
//
//	'L' threads:i32 size:u64 model   -> status:u32 (0 ready, 1 the model loads
//	                                    but this engine cannot run it, 2 invalid)
//	                                    error:str, then unless 2: the operators
//	                                    (count, then code:i32 custom:str each) and
//	                                    the inputs and outputs (nin:u32 nout:u32,
//	                                    then name:str type:i32 ndims:u32 dims:i32...
//	                                    scale:f32 zero_point:i32 bytes:u64 each)
//	'M' + memfd (SCM_RIGHTS) size:u64 offset:u64 per tensor -> status:u32
//	'I'                              -> status:u32 error:str
//
// It exits when the socket closes.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"syscall"

	"github.com/edgeclass/edgeclass/tflite"
)

func main() {
	f := os.NewFile(3, "socket")
	c, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tflite-standin-server: fd 3 is not the stand-in's socket:", err)
		os.Exit(2)
	}
	f.Close()
	uc, ok := c.(*net.UnixConn)
	if !ok {
		fmt.Fprintln(os.Stderr, "tflite-standin-server: fd 3 is not a Unix socket")
		os.Exit(2)
	}
	s := &server{conn: uc}
	if err := s.serve(); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "tflite-standin-server:", err)
		os.Exit(1)
	}
}

type server struct {
	conn    *net.UnixConn
	it      *tflite.Interpreter
	tensors []*tflite.TensorDef // inputs, then outputs
	shm     []byte
	offsets []uint64
}

func (s *server) serve() error {
	for {
		cmd, fd, err := s.command()
		if err != nil {
			return err
		}
		switch cmd {
		case 'L':
			err = s.load()
		case 'M':
			err = s.mapTensors(fd)
		case 'I':
			err = s.invoke()
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		if err != nil {
			return err
		}
	}
}

// command reads one command byte and the descriptor sent with it, if any.
func (s *server) command() (byte, int, error) {
	var b [1]byte
	oob := make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, _, err := s.conn.ReadMsgUnix(b[:], oob)
	if err != nil {
		return 0, -1, err
	}
	if n == 0 {
		return 0, -1, io.EOF
	}
	fd := -1
	if oobn > 0 {
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return 0, -1, err
		}
		for _, m := range msgs {
			if fds, err := syscall.ParseUnixRights(&m); err == nil && len(fds) > 0 {
				fd = fds[0]
			}
		}
	}
	return b[0], fd, nil
}

func (s *server) read(v any) error { return binary.Read(s.conn, binary.LittleEndian, v) }

func (s *server) load() error {
	var threads int32
	var size uint64
	if err := s.read(&threads); err != nil {
		return err
	}
	if err := s.read(&size); err != nil {
		return err
	}
	if size > 1<<31 {
		return fmt.Errorf("model of %d bytes", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(s.conn, data); err != nil {
		return err
	}
	var w reply
	m, err := tflite.Load(data)
	if err != nil {
		w.u32(2)
		w.str(err.Error())
		return w.send(s.conn)
	}
	s.it, err = tflite.NewInterpreter(m, &tflite.Options{Threads: int(threads)})
	if err != nil {
		w.u32(1)
		w.str(err.Error())
	} else {
		w.u32(0)
		w.str("")
	}
	sg := m.Main()
	w.u32(uint32(len(sg.Operators)))
	for _, op := range sg.Operators {
		w.i32(int32(op.Op))
		w.str(op.Custom)
	}
	w.u32(uint32(len(sg.Inputs)))
	w.u32(uint32(len(sg.Outputs)))
	for _, i := range append(append([]int(nil), sg.Inputs...), sg.Outputs...) {
		def := &sg.Tensors[i]
		s.tensors = append(s.tensors, def)
		w.str(def.Name)
		w.i32(cType(def.Type))
		w.u32(uint32(len(def.Shape)))
		n := int64(1)
		for _, d := range def.Shape {
			w.i32(int32(d))
			n *= int64(d)
		}
		scale, zp := float32(0), int32(0)
		if q := def.Quant; q != nil && len(q.Scale) > 0 {
			scale, zp = q.Scale[0], int32(q.ZeroPoint[0])
		}
		w.f32(scale)
		w.i32(zp)
		w.u64(uint64(n) * uint64(def.Type.Size()))
	}
	return w.send(s.conn)
}

// cType is the C API's TfLiteType for a tensor type.
func cType(t tflite.TensorType) int32 {
	switch t {
	case tflite.Float32:
		return 1
	case tflite.Int32:
		return 2
	case tflite.Uint8:
		return 3
	case tflite.Int64:
		return 4
	case tflite.String:
		return 5
	case tflite.Bool:
		return 6
	case tflite.Int16:
		return 7
	case tflite.Int8:
		return 9
	case tflite.Float16:
		return 10
	case tflite.Float64:
		return 11
	}
	return 0
}

func (s *server) mapTensors(fd int) error {
	if fd < 0 {
		return errors.New("'M' came without a memory descriptor")
	}
	defer syscall.Close(fd)
	var size uint64
	if err := s.read(&size); err != nil {
		return err
	}
	s.offsets = make([]uint64, len(s.tensors))
	if err := s.read(s.offsets); err != nil {
		return err
	}
	shm, err := syscall.Mmap(fd, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mapping the tensors: %w", err)
	}
	s.shm = shm
	var w reply
	w.u32(0)
	return w.send(s.conn)
}

func (s *server) invoke() error {
	var w reply
	if err := s.run(); err != nil {
		w.u32(1)
		w.str(err.Error())
	} else {
		w.u32(0)
		w.str("")
	}
	return w.send(s.conn)
}

// run copies the inputs in, invokes and copies the outputs out.
func (s *server) run() error {
	if s.it == nil || s.shm == nil {
		return errors.New("stand-in: no model is loaded")
	}
	in, out := s.it.Inputs(), s.it.Outputs()
	for i, t := range in {
		off := s.offsets[i]
		copy(t.Bytes(), s.shm[off:off+uint64(len(t.Bytes()))])
	}
	if err := s.it.Invoke(); err != nil {
		return err
	}
	for i, t := range out {
		off := s.offsets[len(in)+i]
		copy(s.shm[off:off+uint64(len(t.Bytes()))], t.Bytes())
	}
	return nil
}

// reply collects one answer, sent in one write.
type reply struct{ b []byte }

func (r *reply) u32(v uint32) { r.b = binary.LittleEndian.AppendUint32(r.b, v) }
func (r *reply) i32(v int32)  { r.u32(uint32(v)) }
func (r *reply) u64(v uint64) { r.b = binary.LittleEndian.AppendUint64(r.b, v) }
func (r *reply) f32(v float32) {
	r.b = binary.LittleEndian.AppendUint32(r.b, math.Float32bits(v))
}
func (r *reply) str(s string) {
	r.u32(uint32(len(s)))
	r.b = append(r.b, s...)
}
func (r *reply) send(w io.Writer) error {
	_, err := w.Write(r.b)
	return err
}
