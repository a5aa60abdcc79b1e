package trainer

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Ratios are the shares of the train, validation and test splits.
type Ratios struct {
	Train float64 `json:"train"`
	Val   float64 `json:"val"`
	Test  float64 `json:"test"`
}

// Check validates the ratios.
func (r Ratios) Check() error {
	if r.Train <= 0 || r.Val < 0 || r.Test < 0 || math.Abs(r.Train+r.Val+r.Test-1) > 1e-6 {
		return fmt.Errorf("split ratios %v/%v/%v must be >= 0, train > 0, and sum to 1", r.Train, r.Val, r.Test)
	}
	return nil
}

// SplitData assigns every item to train, val or test: stratified by class,
// shuffled with seed, keeping each group of duplicates (Checks) in one
// split. For presplit data only the missing val or test split is carved
// out of train, with the same shares of the whole.
func SplitData(ds *Dataset, ch *Checks, r Ratios, seed uint64) error {
	if err := r.Check(); err != nil {
		return err
	}
	haveVal, haveTest := false, false
	for i := range ds.Items {
		it := &ds.Items[i]
		if !ds.Presplit {
			it.Split = SplitTrain
		}
		haveVal = haveVal || it.Split == SplitVal
		haveTest = haveTest || it.Split == SplitTest
	}
	want := map[string]float64{}
	if !haveVal {
		want[SplitVal] = r.Val
	}
	if !haveTest {
		want[SplitTest] = r.Test
	}
	// Groups of train items by the class of their first member.
	members := map[int][]int{}
	var order []int // group ids in item order, for determinism
	for i := range ds.Items {
		if ds.Items[i].Split != SplitTrain {
			continue
		}
		g := ch.groups[i]
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		members[g] = append(members[g], i)
	}
	byClass := make([][]int, len(ds.Classes))
	for _, g := range order {
		c := ds.Items[members[g][0]].Class
		byClass[c] = append(byClass[c], g)
	}
	total := ds.Counts("")
	for c, groups := range byClass {
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		n := 0
		for _, g := range groups {
			n += len(members[g])
		}
		target := func(share float64) int {
			if share <= 0 {
				return 0
			}
			t := int(math.Round(share * float64(total[c])))
			if t == 0 && n >= 3 {
				t = 1 // every class appears in every split it can
			}
			return t
		}
		quota := []struct {
			split string
			left  int
		}{{SplitTest, target(want[SplitTest])}, {SplitVal, target(want[SplitVal])}}
		for _, g := range groups {
			for q := range quota {
				if quota[q].left > 0 {
					for _, i := range members[g] {
						ds.Items[i].Split = quota[q].split
					}
					quota[q].left -= len(members[g])
					break
				}
			}
		}
	}
	train := ds.Counts(SplitTrain)
	for c := range ds.Classes {
		if train[c] == 0 {
			return fmt.Errorf("split: class %q has no training images (it has %d in all)", ds.Classes[c], total[c])
		}
	}
	return nil
}

// splitFile is the JSON form of a split, written to the output folder so
// that a run can be repeated on exactly the same images.
type splitFile struct {
	Seed    uint64      `json:"seed"`
	Ratios  Ratios      `json:"ratios"`
	Classes []string    `json:"classes"`
	Items   []splitItem `json:"items"`
}

type splitItem struct {
	Path   string `json:"path"`
	Class  string `json:"class"`
	Split  string `json:"split"`
	SHA256 string `json:"sha256"`
}

// WriteSplit writes split.json and split.csv into dir.
func WriteSplit(dir string, ds *Dataset, r Ratios, seed uint64) error {
	sf := splitFile{Seed: seed, Ratios: r, Classes: ds.Classes}
	for _, it := range ds.Items {
		sf.Items = append(sf.Items, splitItem{it.Rel, ds.Classes[it.Class], it.Split, hex.EncodeToString(it.SHA256[:])})
	}
	if err := writeJSON(filepath.Join(dir, "split.json"), sf); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "split.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"path", "class", "split", "sha256"})
	for _, it := range sf.Items {
		w.Write([]string{it.Path, it.Class, it.Split, it.SHA256})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ApplySplitFile assigns splits from a split.json written by an earlier
// run and returns the items the file does not list (their Split is left
// empty). Listed items must have the same content and class; items the
// file lists but the folder lacks are ignored.
func ApplySplitFile(path string, ds *Dataset) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("split file: %w", err)
	}
	var sf splitFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return nil, fmt.Errorf("split file %s: %w", path, err)
	}
	byPath := map[string]splitItem{}
	for _, it := range sf.Items {
		byPath[it.Path] = it
	}
	var missing []string
	for i := range ds.Items {
		it := &ds.Items[i]
		s, ok := byPath[it.Rel]
		switch {
		case !ok:
			missing = append(missing, it.Rel)
			it.Split = ""
			continue
		case s.SHA256 != hex.EncodeToString(it.SHA256[:]):
			return nil, fmt.Errorf("split file %s: %s has changed since the split was made", path, it.Rel)
		case s.Class != ds.Classes[it.Class]:
			return nil, fmt.Errorf("split file %s: %s is in class %q there, %q now", path, it.Rel, s.Class, ds.Classes[it.Class])
		case s.Split != SplitTrain && s.Split != SplitVal && s.Split != SplitTest:
			return nil, fmt.Errorf("split file %s: %s has unknown split %q", path, it.Rel, s.Split)
		}
		it.Split = s.Split
	}
	return missing, nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
