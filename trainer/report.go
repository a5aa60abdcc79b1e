package trainer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgeclass/edgeclass/camera"
)

// brief is the few lines of the checks a run prints (the details go to
// checks.txt).
func (ch *Checks) brief() string {
	cross := 0
	for _, ps := range [][]DuplicatePair{ch.Exact, ch.Near} {
		for _, p := range ps {
			if p.CrossClass() {
				cross++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "checks: %d files skipped, %d exact and %d near duplicate pairs (%d across classes), %d images removed, class imbalance %.2f (details in checks.txt)\n",
		len(ch.Skipped), len(ch.Exact), len(ch.Near), cross, len(ch.Removed), ch.Imbalance)
	for _, s := range ch.Skipped[:min(5, len(ch.Skipped))] {
		fmt.Fprintf(&b, "  skipped %s: %s\n", s.Path, s.Reason)
	}
	if len(ch.Skipped) > 5 {
		fmt.Fprintf(&b, "  ... and %d more\n", len(ch.Skipped)-5)
	}
	return b.String()
}

// splitTable shows the number of images per class and split.
func splitTable(ds *Dataset) string {
	var b strings.Builder
	w := 5
	for _, c := range ds.Classes {
		w = max(w, len(c))
	}
	fmt.Fprintf(&b, "%-*s %7s %7s %7s\n", w, "class", SplitTrain, SplitVal, SplitTest)
	tr, va, te := ds.Counts(SplitTrain), ds.Counts(SplitVal), ds.Counts(SplitTest)
	var st [3]int
	for c, name := range ds.Classes {
		fmt.Fprintf(&b, "%-*s %7d %7d %7d\n", w, name, tr[c], va[c], te[c])
		st[0], st[1], st[2] = st[0]+tr[c], st[1]+va[c], st[2]+te[c]
	}
	fmt.Fprintf(&b, "%-*s %7d %7d %7d\n", w, "total", st[0], st[1], st[2])
	return b.String()
}

// maxErrorThumbs bounds the contact sheet of mistakes.
const maxErrorThumbs = 96

// writeEvalReport writes PREFIXconfusion.txt, PREFIXconfusion.png and
// PREFIXerrors.png (the misclassified images) into dir.
func writeEvalReport(dir, prefix, title string, ds *Dataset, res *EvalResult) error {
	m := &res.Metrics
	if err := os.WriteFile(filepath.Join(dir, prefix+"confusion.txt"), []byte(title+"\n\n"+m.Text()), 0o644); err != nil {
		return err
	}
	if err := confusionPNG(filepath.Join(dir, prefix+"confusion.png"), fmt.Sprintf("%s: accuracy %.2f%%", title, 100*m.Accuracy), m); err != nil {
		return err
	}
	var thumbs []thumb
	wrong := 0
	for _, p := range res.Predictions {
		if p.Pred == p.Truth {
			continue
		}
		wrong++
		if len(thumbs) == maxErrorThumbs {
			continue
		}
		img, err := camera.LoadImage(filepath.Join(ds.Root, filepath.FromSlash(p.Path)))
		if err != nil {
			return err
		}
		thumbs = append(thumbs, thumb{img: img,
			line1: "true " + ds.Classes[p.Truth], color1: green,
			line2: fmt.Sprintf("got %.2f %s", p.Score, p.Label), color2: red})
	}
	t := fmt.Sprintf("%s: %d of %d wrong", title, wrong, len(res.Predictions))
	if wrong > len(thumbs) {
		t += fmt.Sprintf(" (first %d shown)", len(thumbs))
	}
	return contactSheetPNG(filepath.Join(dir, prefix+"errors.png"), t, thumbs)
}

// summaryTable is the table a run ends with.
func summaryTable(res *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-8s %-6s %9s %9s %7s  %s\n", "model", "split", "accuracy", "macro-F1", "images", "file")
	row := func(name, split string, m *Metrics, path string) {
		if m == nil {
			return
		}
		fmt.Fprintf(&b, "%-8s %-6s %8.2f%% %9.4f %7d  %s\n", name, split, 100*m.Accuracy, m.MacroF1, m.N, path)
	}
	row("float", SplitVal, res.Float.Val, "")
	row("float", SplitTest, res.Float.Test, res.Float.Path)
	row("int8", SplitVal, res.Int8.Val, "")
	row("int8", SplitTest, res.Int8.Test, res.Int8.Path)
	var stages []string
	for _, s := range []string{"data", "features", "train", "fine-tune", "export", "int8", "reports"} {
		if d, ok := res.Durations[s]; ok {
			stages = append(stages, fmt.Sprintf("%s %.1fs", s, d))
		}
	}
	fmt.Fprintf(&b, "time: %s\n", strings.Join(stages, ", "))
	return b.String()
}

// modelCard is the JSON model card.
type modelCard struct {
	Name      string                    `json:"name"`
	Created   string                    `json:"created"`
	Classes   []string                  `json:"classes"`
	Data      cardData                  `json:"data"`
	Backbone  BackboneInfo              `json:"backbone"`
	Training  cardTraining              `json:"training"`
	Metrics   map[string]ModelMetrics   `json:"metrics"`
	Files     []OutputFile              `json:"files"`
	Durations map[string]float64        `json:"durations_s"`
	Splits    map[string]map[string]int `json:"split_counts"`
}

type cardData struct {
	Folder          string  `json:"folder"`
	Images          int     `json:"images"`
	Skipped         int     `json:"skipped_files"`
	ExactDuplicates int     `json:"exact_duplicate_pairs"`
	NearDuplicates  int     `json:"near_duplicate_pairs"`
	Removed         int     `json:"removed_images"`
	Imbalance       float64 `json:"imbalance"`
	Presplit        bool    `json:"presplit"`
	SplitSeed       uint64  `json:"split_seed"`
	Ratios          Ratios  `json:"split_ratios"`
	SplitFile       string  `json:"split_file,omitempty"`
}

type cardTraining struct {
	Head     HeadConfig      `json:"head"`
	FineTune *FineTuneConfig `json:"fine_tune,omitempty"`
	// Stage 2's epochs run and kept, when it ran.
	FineTuneEpochs int     `json:"fine_tune_epochs_run,omitempty"`
	FineTuneBest   int     `json:"fine_tune_best_epoch,omitempty"`
	Augment        Augment `json:"augment"`
	Fit            string  `json:"fit"`
	Seed           uint64  `json:"seed"`
	Epochs         int     `json:"epochs_run"`
	BestEpoch      int     `json:"best_epoch"`
}

func newModelCard(cfg *Config, ds *Dataset, res *Result) *modelCard {
	fit := "squash"
	if cfg.Fit == camera.CenterCrop {
		fit = "crop"
	}
	card := &modelCard{
		Name: "edgeclass image classifier", Created: time.Now().UTC().Format(time.RFC3339), Classes: ds.Classes,
		Data: cardData{Folder: cfg.Data, Images: len(ds.Items), Skipped: len(res.Checks.Skipped),
			ExactDuplicates: len(res.Checks.Exact), NearDuplicates: len(res.Checks.Near), Removed: len(res.Checks.Removed),
			Imbalance: res.Checks.Imbalance, Presplit: ds.Presplit, SplitSeed: cfg.Seed, Ratios: cfg.Ratios, SplitFile: cfg.SplitFile},
		Backbone:  res.Backbone,
		Training:  cardTraining{Head: cfg.Head, Augment: cfg.Augment, Fit: fit, Seed: cfg.Seed, Epochs: len(res.History), BestEpoch: res.BestEpoch},
		Metrics:   map[string]ModelMetrics{"float": inFolder(res.Float)},
		Files:     res.Files,
		Durations: res.Durations,
		Splits:    map[string]map[string]int{},
	}
	if res.Int8.Test != nil {
		card.Metrics["int8"] = inFolder(res.Int8)
	}
	if len(res.FineTuneHistory) > 0 {
		ft := cfg.FineTune
		card.Training.FineTune, card.Training.FineTuneEpochs, card.Training.FineTuneBest = &ft, len(res.FineTuneHistory), res.FineTuneBest
		card.Metrics["head_only"] = res.HeadOnly
	}
	for _, s := range []string{SplitTrain, SplitVal, SplitTest} {
		card.Splits[s] = map[string]int{}
		for c, n := range ds.Counts(s) {
			card.Splits[s][ds.Classes[c]] = n
		}
	}
	return card
}

// markdown renders the card for people.
func (c *modelCard) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Model card: %s\n\nCreated %s by the edgeclass trainer.\n\n", c.Name, c.Created)
	fmt.Fprintf(&b, "Classifies an image into one of %d classes: %s.\n\n", len(c.Classes), strings.Join(c.Classes, ", "))
	b.WriteString("## Data\n\n")
	fmt.Fprintf(&b, "- Folder: `%s`, %d usable images", c.Data.Folder, c.Data.Images)
	if c.Data.Presplit {
		b.WriteString(" (split into train/val/test folders by the data's author)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- Checks: %d files skipped, %d exact and %d near duplicate pairs, %d images removed (see checks.txt); class imbalance (largest/smallest) %.2f\n",
		c.Data.Skipped, c.Data.ExactDuplicates, c.Data.NearDuplicates, c.Data.Removed, c.Data.Imbalance)
	if c.Data.SplitFile != "" {
		fmt.Fprintf(&b, "- Split: from `%s`\n\n", c.Data.SplitFile)
	} else {
		fmt.Fprintf(&b, "- Split: stratified by class, seed %d, shares %.2f/%.2f/%.2f; duplicates kept in one split (split.json, split.csv)\n\n",
			c.Data.SplitSeed, c.Data.Ratios.Train, c.Data.Ratios.Val, c.Data.Ratios.Test)
	}
	b.WriteString("| class | train | val | test |\n|---|---:|---:|---:|\n")
	for _, cl := range c.Classes {
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", cl, c.Splits[SplitTrain][cl], c.Splits[SplitVal][cl], c.Splits[SplitTest][cl])
	}
	b.WriteString("\n## Model\n\n")
	fmt.Fprintf(&b, "- Backbone: `%s` (sha256 %s), %s input %dx%d, cut at `%s` (%d features); quantized weights dequantized into a float graph\n",
		c.Backbone.Path, c.Backbone.SHA256, c.Backbone.InputType, c.Backbone.InputWidth, c.Backbone.InputHeight, c.Backbone.Feature, c.Backbone.FeatureDim)
	h := c.Training.Head
	fmt.Fprintf(&b, "- Head: dropout %.2f, dense %d->%d, softmax; Adam, learning rate %g (cosine decay), batch %d, label smoothing %.2f, weight decay %g, balance %s\n",
		h.Dropout, c.Backbone.FeatureDim, len(c.Classes), h.LearningRate, h.BatchSize, h.LabelSmoothing, h.WeightDecay, h.Balance)
	fmt.Fprintf(&b, "- Training: %d epochs run (at most %d, patience %d), best val loss at epoch %d; seed %d; images fitted by %s\n",
		c.Training.Epochs, h.Epochs, h.Patience, c.Training.BestEpoch, c.Training.Seed, c.Training.Fit)
	if ft := c.Training.FineTune; ft != nil {
		fmt.Fprintf(&b, "- Stage 2: the backbone's top %d convolution layers trained with the head, learning rate %g (cosine decay), %d epochs run (at most %d), best val loss at epoch %d; metrics of the head alone are listed as head_only\n",
			ft.Layers, ft.LearningRate, c.Training.FineTuneEpochs, ft.Epochs, c.Training.FineTuneBest)
	}
	a := c.Training.Augment
	fmt.Fprintf(&b, "- Augmentation: %d views per training image; flip %t, rotation +-%g deg, zoom up to %g, brightness +-%g, contrast +-%g\n\n",
		a.Views, a.Flip, a.Rotate, a.Zoom, a.Brightness, a.Contrast)
	b.WriteString("## Metrics\n\n| model | split | accuracy | macro F1 | images |\n|---|---|---:|---:|---:|\n")
	for _, name := range []string{"head_only", "float", "int8"} {
		mm, ok := c.Metrics[name]
		if !ok {
			continue
		}
		for _, s := range []struct {
			name string
			m    *Metrics
		}{{SplitVal, mm.Val}, {SplitTest, mm.Test}} {
			if s.m != nil {
				fmt.Fprintf(&b, "| %s | %s | %.2f%% | %.4f | %d |\n", name, s.name, 100*s.m.Accuracy, s.m.MacroF1, s.m.N)
			}
		}
	}
	for _, name := range []string{"float", "int8"} {
		mm, ok := c.Metrics[name]
		if !ok || mm.Test == nil {
			continue
		}
		fmt.Fprintf(&b, "\nPer class, %s model, test split:\n\n| class | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n", name)
		for _, pc := range mm.Test.PerClass {
			fmt.Fprintf(&b, "| %s | %.4f | %.4f | %.4f | %d |\n", pc.Class, pc.Precision, pc.Recall, pc.F1, pc.Support)
		}
	}
	b.WriteString("\nThe float model's metrics come from the head on the cached features of the same float graph (checked against the exported file on test images); the int8 model's from running the file in the engine.\n")
	b.WriteString("\n## Files\n\n| file | bytes | sha256 |\n|---|---:|---|\n")
	for _, f := range c.Files {
		fmt.Fprintf(&b, "| %s | %d | %s |\n", f.Name, f.Bytes, f.SHA256)
	}
	return b.String()
}

// inFolder names the model by its file name in the output folder, so
// that reports do not depend on where the folder is.
func inFolder(m ModelMetrics) ModelMetrics {
	if m.Path != "" {
		m.Path = filepath.Base(m.Path)
	}
	return m
}

// fileInfo checksums a file of the output folder.
func fileInfo(dir, name string) (OutputFile, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return OutputFile{}, err
	}
	sum := sha256.Sum256(data)
	return OutputFile{Name: name, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// writeTrainReports writes metrics.json, the confusion matrices, the
// training curves, the contact sheet of test mistakes and the model card.
func writeTrainReports(cfg *Config, ds *Dataset, res *Result, floatTest, int8Test *EvalResult) error {
	out := cfg.Out
	metrics := map[string]any{"classes": ds.Classes, "float": inFolder(res.Float), "history": res.History, "best_epoch": res.BestEpoch}
	if res.Int8.Test != nil {
		metrics["int8"] = inFolder(res.Int8)
	}
	if err := curvesPNG(filepath.Join(out, "curves.png"), "head", res.History, res.BestEpoch); err != nil {
		return err
	}
	if len(res.FineTuneHistory) > 0 {
		metrics["fine_tune_history"] = res.FineTuneHistory
		metrics["fine_tune_best_epoch"] = res.FineTuneBest
		metrics["head_only"] = res.HeadOnly
		if err := curvesPNG(filepath.Join(out, "curves_fine_tune.png"), "fine-tune", res.FineTuneHistory, res.FineTuneBest); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(out, "metrics.json"), metrics); err != nil {
		return err
	}
	if floatTest.Metrics.N > 0 {
		if err := writeEvalReport(out, "float_", "float model, test split", ds, floatTest); err != nil {
			return err
		}
	}
	if int8Test != nil {
		if err := writeEvalReport(out, "int8_", "int8 model, test split", ds, int8Test); err != nil {
			return err
		}
	}
	res.Files = nil
	for _, name := range []string{FloatModelFile, Int8ModelFile, "labels.txt", "split.json", "split.csv", "metrics.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			continue
		}
		f, err := fileInfo(out, name)
		if err != nil {
			return err
		}
		res.Files = append(res.Files, f)
	}
	card := newModelCard(cfg, ds, res)
	if err := writeJSON(filepath.Join(out, "model_card.json"), card); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "model_card.md"), []byte(card.markdown()), 0o644)
}
