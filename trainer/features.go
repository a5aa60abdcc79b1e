package trainer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/edgeclass/edgeclass/internal/progress"
	"github.com/edgeclass/edgeclass/tflite"
)

// The frozen backbone is run once per image and per augmented view; its
// outputs are kept in a cache file in the output folder, so later runs
// (other head settings, more epochs) start training at once.

// featureCache is an append-only file of feature vectors keyed by a hash of
// what produced them. Records: 32-byte key, then dim little-endian float32.
type featureCache struct {
	mu   sync.Mutex
	dim  int
	f    *os.File
	w    *bufio.Writer
	vecs map[[32]byte][]float32
}

const cacheMagic = "edgeclass features v1\n"

// openCache opens (or creates) the cache of one backbone in dir. A record
// cut short by an interrupted run is dropped.
func openCache(dir, backboneHash string, dim int) (*featureCache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("feature cache: %w", err)
	}
	path := filepath.Join(dir, "features-"+backboneHash[:16]+".bin")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("feature cache: %w", err)
	}
	header := make([]byte, len(cacheMagic)+64+4)
	copy(header, cacheMagic)
	copy(header[len(cacheMagic):], backboneHash)
	binary.LittleEndian.PutUint32(header[len(cacheMagic)+64:], uint32(dim))
	c := &featureCache{dim: dim, f: f, vecs: map[[32]byte][]float32{}}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("feature cache: %w", err)
	}
	if st.Size() == 0 {
		if _, err := f.Write(header); err != nil {
			f.Close()
			return nil, fmt.Errorf("feature cache: %w", err)
		}
	} else if err := c.load(header); err != nil {
		f.Close()
		return nil, fmt.Errorf("feature cache %s: %w (delete it to start afresh)", path, err)
	}
	c.w = bufio.NewWriterSize(f, 1<<20)
	return c, nil
}

func (c *featureCache) load(header []byte) error {
	r := bufio.NewReaderSize(c.f, 1<<20)
	got := make([]byte, len(header))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != string(header) {
		return fmt.Errorf("the file belongs to another backbone or format")
	}
	recLen := 32 + 4*c.dim
	rec := make([]byte, recLen)
	good := int64(len(header))
	for {
		_, err := io.ReadFull(r, rec)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return err
		}
		var key [32]byte
		copy(key[:], rec)
		v := make([]float32, c.dim)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(rec[32+4*i:]))
		}
		c.vecs[key] = v
		good += int64(recLen)
	}
	if err := c.f.Truncate(good); err != nil {
		return err
	}
	_, err := c.f.Seek(good, io.SeekStart)
	return err
}

func (c *featureCache) get(key [32]byte) ([]float32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vecs[key]
	return v, ok
}

// put records a vector; write errors surface in close.
func (c *featureCache) put(key [32]byte, v []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vecs[key] = v
	c.w.Write(key[:])
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		c.w.Write(b[:])
	}
}

// close writes buffered records out.
func (c *featureCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.w.Flush()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// viewKey identifies view v of an image: view 0 is the image itself, views
// from 1 on are augmented with settings aug and seed.
func viewKey(sum [32]byte, view int, aug Augment, seed uint64) [32]byte {
	if view == 0 {
		return sha256.Sum256(append([]byte("original\x00"), sum[:]...))
	}
	return sha256.Sum256(fmt.Appendf(nil, "augmented\x00%x\x00%d\x00%d\x00%s", sum, seed, view, aug.key()))
}

// Features holds a tensor's values for a data set's items: Vec[i][v] is
// view v of item i (view 0 the original).
type Features struct {
	Vec [][][]float32
}

// extractFeatures computes (or reads from the caches) the given tensors of
// the backbone's float graph for view 0 of every item and views
// 1..aug.Views of the training items; caches[k] holds tensor k. Workers
// each run their own single-threaded interpreter; images are decoded once
// for all their views.
func extractFeatures(ctx context.Context, bb *Backbone, tensors []int, caches []*featureCache, ds *Dataset, aug Augment, seed uint64, workers int, log io.Writer) ([]*Features, error) {
	out := make([]*Features, len(tensors))
	for k := range tensors {
		out[k] = &Features{Vec: make([][][]float32, len(ds.Items))}
	}
	type job struct {
		item  int
		views []int
	}
	var jobs []job
	todo := 0
	for i := range ds.Items {
		it := &ds.Items[i]
		n := 1
		if it.Split == SplitTrain {
			n += aug.Views
		}
		var missing []int
		for k := range tensors {
			out[k].Vec[i] = make([][]float32, n)
		}
		for v := 0; v < n; v++ {
			key := viewKey(it.SHA256, v, aug, seed)
			have := true
			for k := range tensors {
				vec, ok := caches[k].get(key)
				out[k].Vec[i][v] = vec
				have = have && ok
			}
			if !have {
				missing = append(missing, v)
			}
		}
		if len(missing) > 0 {
			jobs = append(jobs, job{i, missing})
			todo += len(missing)
		}
	}
	if todo == 0 {
		return out, nil
	}
	m := withOutputs(bb.Model, tensors)
	workers = max(1, min(workers, len(jobs)))
	its := make([]*tflite.Interpreter, workers)
	for w := range its {
		it, err := tflite.NewInterpreter(m, nil)
		if err != nil {
			return nil, fmt.Errorf("backbone: %w", err)
		}
		defer it.Close()
		its[w] = it
	}
	prog := progress.New(log, "backbone", todo)
	errs := make([]error, len(jobs))
	err := forEach(ctx, len(jobs), workers, func(w, j int) {
		jb := jobs[j]
		item := &ds.Items[jb.item]
		img, err := ds.Load(item)
		if err != nil {
			errs[j] = err
			return
		}
		it := its[w]
		for _, v := range jb.views {
			view := img
			if v > 0 {
				view = aug.Apply(img, viewRand(seed, item.SHA256, v))
			}
			if err := bb.Spec.Load(it.Input(0), view); err != nil {
				errs[j] = fmt.Errorf("%s: %w", item.Rel, err)
				return
			}
			if err := it.Invoke(); err != nil {
				errs[j] = fmt.Errorf("%s: %w", item.Rel, err)
				return
			}
			key := viewKey(item.SHA256, v, aug, seed)
			for k := range tensors {
				if _, ok := caches[k].get(key); ok {
					continue
				}
				vec := append([]float32(nil), it.Output(k).Float32s()...)
				out[k].Vec[jb.item][v] = vec
				caches[k].put(key, vec)
			}
			prog.Add(1, "")
		}
	})
	if err != nil {
		return nil, err
	}
	prog.Finish("")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	return out, nil
}
