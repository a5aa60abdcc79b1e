package trainer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFeatureCache(t *testing.T) {
	dir := t.TempDir()
	hash := strings.Repeat("ab", 32)
	c, err := openCache(dir, hash, 3)
	if err != nil {
		t.Fatal(err)
	}
	var k1, k2 [32]byte
	k1[0], k2[0] = 1, 2
	c.put(k1, []float32{1, 2, 3})
	c.put(k2, []float32{-1, 0.5, 1e-9})
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	// A run killed while writing leaves a partial record: it is dropped.
	path := filepath.Join(dir, "features-"+hash[:16]+".bin")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{9, 9, 9, 9, 9})
	f.Close()

	c, err = openCache(dir, hash, 3)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := c.get(k2); !ok || !slices.Equal(v, []float32{-1, 0.5, 1e-9}) {
		t.Errorf("k2 read back as %v %v", v, ok)
	}
	var k3 [32]byte
	k3[0] = 3
	c.put(k3, []float32{7, 8, 9})
	c.close()
	c, err = openCache(dir, hash, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for k, want := range map[[32]byte][]float32{k1: {1, 2, 3}, k3: {7, 8, 9}} {
		if v, ok := c.get(k); !ok || !slices.Equal(v, want) {
			t.Errorf("key %d: %v %v, want %v", k[0], v, ok, want)
		}
	}
	if len(c.vecs) != 3 {
		t.Errorf("%d records, want 3", len(c.vecs))
	}

	// A file of another shape is refused, not misread.
	if _, err := openCache(dir, hash, 4); err == nil || !strings.Contains(err.Error(), "another backbone") {
		t.Errorf("other dimension: error %v", err)
	}
}

func TestViewKeys(t *testing.T) {
	var sum [32]byte
	a := Augment{Views: 2, Flip: true}
	if viewKey(sum, 0, a, 1) != viewKey(sum, 0, Augment{}, 9) {
		t.Error("the original view depends on augmentation settings")
	}
	keys := map[[32]byte]bool{}
	for _, k := range [][32]byte{viewKey(sum, 1, a, 1), viewKey(sum, 2, a, 1), viewKey(sum, 1, a, 2),
		viewKey(sum, 1, Augment{Views: 2, Flip: true, Zoom: 0.1}, 1), viewKey(sum, 0, a, 1)} {
		keys[k] = true
	}
	if len(keys) != 5 {
		t.Error("different views share a cache key")
	}
}

// FuzzFeatureCache feeds arbitrary files to the cache loader: it must
// refuse or read them, never panic, and read only whole records.
func FuzzFeatureCache(f *testing.F) {
	hash := strings.Repeat("cd", 32)
	dir := f.TempDir()
	c, err := openCache(dir, hash, 2)
	if err != nil {
		f.Fatal(err)
	}
	var k [32]byte
	c.put(k, []float32{1, 2})
	c.close()
	good, _ := os.ReadFile(filepath.Join(dir, "features-"+hash[:16]+".bin"))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte(cacheMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "features-"+hash[:16]+".bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := openCache(dir, hash, 2)
		if err != nil {
			return
		}
		defer c.close()
		for _, v := range c.vecs {
			if len(v) != 2 {
				t.Fatalf("record of %d values", len(v))
			}
		}
	})
}
