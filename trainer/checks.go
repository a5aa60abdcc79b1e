package trainer

import (
	"fmt"
	"image"
	"image/color"
	"math/bits"
	"slices"
	"strings"
)

// Hash is a perceptual hash of a picture, a difference hash (dHash) with
// three states: the picture is shrunk to 17x16 grey cells, and each of the
// 256 horizontal neighbour pairs is brighter on the left (Pos), on the right
// (Neg), or about equal (neither), so that flat areas, whose order is
// noise, do not make copies of a photo look different.
type Hash struct{ Pos, Neg [4]uint64 }

// hashMargin is the brightness difference (of 255) below which neighbouring
// cells count as equal.
const hashMargin = 4

// Distance compares two hashes on a scale of 0 to 256 (like a Hamming
// distance of 256 bits): the pairs that differ (a sign flip counts twice)
// relative to the pairs that are not flat in at least one of the two
// pictures. Copies of a photo score near 0, unrelated photos about 128.
func (h Hash) Distance(o Hash) int {
	d, u := 0, 0
	for i := range h.Pos {
		d += bits.OnesCount64(h.Pos[i]^o.Pos[i]) + bits.OnesCount64(h.Neg[i]^o.Neg[i])
		u += bits.OnesCount64(h.Pos[i] | h.Neg[i] | o.Pos[i] | o.Neg[i])
	}
	// A floor on the union keeps nearly flat pictures from scoring high
	// on a handful of pairs.
	return 256 * d / (2 * max(u, 64))
}

// DefaultNearDuplicate is the default largest hash distance of near
// duplicates. On flower_photos the pairs up to 36 are copies of one photo
// (re-encoded, re-cropped or colour-edited: 18 pairs besides 4 exact
// copies); from about 40 on, similar but distinct photos appear.
const DefaultNearDuplicate = 36

func dhash(img image.Image) Hash {
	const w, h = 17, 16
	g := greyCells(img, w, h)
	var out Hash
	k := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w-1; x++ {
			switch d := g[y*w+x] - g[y*w+x+1]; {
			case d > hashMargin:
				out.Pos[k/64] |= 1 << (k % 64)
			case d < -hashMargin:
				out.Neg[k/64] |= 1 << (k % 64)
			}
			k++
		}
	}
	return out
}

// greyCells averages the picture's brightness over a w x h grid of cells.
// JPEG pictures are read from their luma plane directly.
func greyCells(img image.Image, w, h int) []float64 {
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	sum := make([]float64, w*h)
	cnt := make([]float64, w*h)
	var luma func(x, y int) float64
	switch m := img.(type) {
	case *image.YCbCr:
		luma = func(x, y int) float64 { return float64(m.Y[m.YOffset(b.Min.X+x, b.Min.Y+y)]) }
	case *image.Gray:
		luma = func(x, y int) float64 { return float64(m.Pix[m.PixOffset(b.Min.X+x, b.Min.Y+y)]) }
	default:
		luma = func(x, y int) float64 {
			return float64(color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y)
		}
	}
	for y := 0; y < H; y++ {
		cy := min(y*h/H, h-1)
		for x := 0; x < W; x++ {
			c := cy*w + min(x*w/W, w-1)
			sum[c] += luma(x, y)
			cnt[c]++
		}
	}
	for i := range sum {
		if cnt[i] > 0 {
			sum[i] /= cnt[i]
		}
	}
	return sum
}

// DuplicatePair is two images with the same bytes or nearly the same
// picture.
type DuplicatePair struct {
	// Paths relative to the dataset root and their classes.
	PathA  string `json:"a"`
	PathB  string `json:"b"`
	ClassA string `json:"class_a"`
	ClassB string `json:"class_b"`
	// Distance is the Hamming distance of the perceptual hashes (0 for
	// exact duplicates).
	Distance int  `json:"distance"`
	Exact    bool `json:"exact"`
}

// CrossClass reports a pair whose images carry different labels: label
// noise.
func (p DuplicatePair) CrossClass() bool { return p.ClassA != p.ClassB }

// Checks is what the data checks found.
type Checks struct {
	Skipped    []Skipped       `json:"skipped"`
	Exact      []DuplicatePair `json:"exact_duplicates"`
	Near       []DuplicatePair `json:"near_duplicates"`
	Removed    []Skipped       `json:"removed"` // items dropped from training, and why
	Counts     map[string]int  `json:"counts"`
	Imbalance  float64         `json:"imbalance"` // largest class / smallest class
	NearDupMax int             `json:"near_duplicate_max_distance"`
	// groups[i] is the duplicate group of item i (items of one group stay
	// in one split).
	groups []int
}

// CheckData finds exact duplicates (same bytes) and near duplicates
// (perceptual hashes within nearMax bits; negative disables the search) and
// removes redundant copies: of exact duplicates with the same label one
// copy is kept; exact duplicates with different labels are all removed,
// since their label is unknown. Near duplicates are only reported (they may
// be distinct photos); they are kept in the same split so that a near copy
// of a test image is never trained on.
func CheckData(ds *Dataset, nearMax int) *Checks {
	ch := &Checks{Skipped: ds.Skipped, NearDupMax: nearMax, Counts: map[string]int{}}
	pair := func(i, j int, dist int, exact bool) DuplicatePair {
		a, b := &ds.Items[i], &ds.Items[j]
		return DuplicatePair{PathA: a.Rel, PathB: b.Rel, ClassA: ds.Classes[a.Class], ClassB: ds.Classes[b.Class], Distance: dist, Exact: exact}
	}
	// Exact duplicates, grouped by content hash (items are sorted by path,
	// so the first copy is the one kept).
	byHash := map[[32]byte][]int{}
	for i, it := range ds.Items {
		byHash[it.SHA256] = append(byHash[it.SHA256], i)
	}
	drop := make([]string, len(ds.Items))
	for i, it := range ds.Items {
		same := byHash[it.SHA256]
		if same[0] != i {
			continue
		}
		classes := map[int]bool{}
		for _, j := range same {
			classes[ds.Items[j].Class] = true
		}
		for _, j := range same[1:] {
			ch.Exact = append(ch.Exact, pair(same[0], j, 0, true))
			if len(classes) == 1 {
				drop[j] = "exact duplicate of " + ds.Items[same[0]].Rel
			}
		}
		if len(classes) > 1 {
			var names []string
			for _, j := range same {
				names = append(names, ds.Items[j].Rel)
			}
			for _, j := range same {
				drop[j] = "the same image is labelled differently: " + strings.Join(names, ", ")
			}
		}
	}
	// Near duplicates: all pairs (64-bit popcounts are cheap next to the
	// decoding that produced the hashes).
	parent := make([]int, len(ds.Items))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(i, j int) {
		if a, b := find(i), find(j); a != b {
			parent[max(a, b)] = min(a, b)
		}
	}
	for i := range ds.Items {
		for j := i + 1; j < len(ds.Items); j++ {
			a, b := &ds.Items[i], &ds.Items[j]
			if a.SHA256 == b.SHA256 {
				union(i, j)
				continue
			}
			if nearMax < 0 {
				continue
			}
			if d := a.DHash.Distance(b.DHash); d <= nearMax {
				ch.Near = append(ch.Near, pair(i, j, d, false))
				union(i, j)
			}
		}
	}
	// Remove dropped items, remapping groups.
	kept := ds.Items[:0]
	var groups []int
	for i, it := range ds.Items {
		if drop[i] != "" {
			ch.Removed = append(ch.Removed, Skipped{it.Rel, drop[i]})
			continue
		}
		kept = append(kept, it)
		groups = append(groups, find(i))
	}
	ds.Items = kept
	// Number groups by their first kept member.
	leader := map[int]int{}
	for i, g := range groups {
		if _, ok := leader[g]; !ok {
			leader[g] = i
		}
		groups[i] = leader[g]
	}
	ch.groups = groups
	counts := ds.Counts("")
	lo, hi := counts[0], counts[0]
	for c, n := range counts {
		ch.Counts[ds.Classes[c]] = n
		lo, hi = min(lo, n), max(hi, n)
	}
	if lo > 0 {
		ch.Imbalance = float64(hi) / float64(lo)
	}
	slices.SortFunc(ch.Near, func(a, b DuplicatePair) int {
		return strings.Compare(a.PathA+"\x00"+a.PathB, b.PathA+"\x00"+b.PathB)
	})
	return ch
}

// Summary is a short human-readable account of the checks.
func (ch *Checks) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "skipped files: %d\n", len(ch.Skipped))
	for _, s := range ch.Skipped {
		fmt.Fprintf(&b, "  %s: %s\n", s.Path, s.Reason)
	}
	cross := 0
	for _, p := range ch.Exact {
		if p.CrossClass() {
			cross++
		}
	}
	fmt.Fprintf(&b, "exact duplicates: %d pairs (%d across classes)\n", len(ch.Exact), cross)
	for _, p := range ch.Exact {
		fmt.Fprintf(&b, "  %s = %s%s\n", p.PathA, p.PathB, crossNote(p))
	}
	cross = 0
	for _, p := range ch.Near {
		if p.CrossClass() {
			cross++
		}
	}
	fmt.Fprintf(&b, "near duplicates (dHash distance <= %d): %d pairs (%d across classes, possible label noise)\n", ch.NearDupMax, len(ch.Near), cross)
	for _, p := range ch.Near {
		fmt.Fprintf(&b, "  %s ~ %s (distance %d)%s\n", p.PathA, p.PathB, p.Distance, crossNote(p))
	}
	fmt.Fprintf(&b, "removed from training: %d\n", len(ch.Removed))
	for _, s := range ch.Removed {
		fmt.Fprintf(&b, "  %s: %s\n", s.Path, s.Reason)
	}
	fmt.Fprintf(&b, "class balance: largest/smallest = %.2f\n", ch.Imbalance)
	return b.String()
}

func crossNote(p DuplicatePair) string {
	if p.CrossClass() {
		return fmt.Sprintf("  [ACROSS CLASSES: %s vs %s]", p.ClassA, p.ClassB)
	}
	return ""
}
