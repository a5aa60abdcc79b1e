package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/trainer"
)

func init() {
	register("train", "train a classifier from a folder of photos (transfer learning)", runTrain)
}

func runTrain(args []string) error {
	d := trainer.DefaultConfig()
	fs := newFlags("train", "")
	cfg := d
	fs.StringVar(&cfg.Data, "data", "", "photos: DIR/<class>/*.jpg, or DIR/{train,val,test}/<class>/*.jpg (required)")
	fs.StringVar(&cfg.Backbone, "backbone", "", "an image classifier or feature extractor .tflite (required)")
	fs.StringVar(&cfg.Out, "out", "", "output folder for models, reports and the feature cache (required)")
	fs.StringVar(&cfg.FeatureTensor, "feature-tensor", "", "name of the backbone's feature tensor (default: found automatically)")
	fit := fs.String("fit", "squash", "how images meet the input size, as on the device: squash or crop")
	fs.Uint64Var(&cfg.Seed, "seed", d.Seed, "seed of the split, augmentation and training")
	split := fs.String("split", "0.7,0.15,0.15", "train,val,test shares (unless the data has train/ val/ test/ folders)")
	fs.StringVar(&cfg.SplitFile, "split-file", "", "reuse the split.json of an earlier run")
	fs.IntVar(&cfg.NearDuplicate, "near-dup", d.NearDuplicate, "largest perceptual-hash distance (of 256 bits) of near duplicates; -1 turns the search off")
	fs.IntVar(&cfg.Augment.Views, "aug-views", d.Augment.Views, "augmented views per training image (0: no augmentation)")
	fs.BoolVar(&cfg.Augment.Flip, "flip", d.Augment.Flip, "augment: random left-right flip")
	fs.Float64Var(&cfg.Augment.Rotate, "rotate", d.Augment.Rotate, "augment: largest rotation in degrees")
	fs.Float64Var(&cfg.Augment.Zoom, "zoom", d.Augment.Zoom, "augment: largest zoom (share of each side cropped away)")
	fs.Float64Var(&cfg.Augment.Brightness, "brightness", d.Augment.Brightness, "augment: largest relative brightness change")
	fs.Float64Var(&cfg.Augment.Contrast, "contrast", d.Augment.Contrast, "augment: largest relative contrast change")
	fs.IntVar(&cfg.Head.Epochs, "epochs", d.Head.Epochs, "most epochs")
	fs.IntVar(&cfg.Head.BatchSize, "batch", d.Head.BatchSize, "batch size")
	fs.Float64Var(&cfg.Head.LearningRate, "lr", d.Head.LearningRate, "peak learning rate (Adam, cosine decay)")
	fs.Float64Var(&cfg.Head.Dropout, "dropout", d.Head.Dropout, "dropout rate on the features")
	fs.Float64Var(&cfg.Head.LabelSmoothing, "label-smoothing", d.Head.LabelSmoothing, "label smoothing")
	fs.Float64Var(&cfg.Head.WeightDecay, "weight-decay", d.Head.WeightDecay, "decoupled weight decay")
	fs.IntVar(&cfg.Head.Patience, "patience", d.Head.Patience, "stop after this many epochs without a better validation loss (0: never)")
	fs.StringVar(&cfg.Head.Balance, "balance", d.Head.Balance, "class imbalance: none, weights (loss weights) or sample (balanced sampling)")
	fs.IntVar(&cfg.FineTune.Layers, "fine-tune", 0, "stage 2: also train the backbone's top N convolution layers (e.g. 4: MobileNetV2's last block and final 1x1 convolution); 0: head only")
	fs.IntVar(&cfg.FineTune.Epochs, "fine-tune-epochs", d.FineTune.Epochs, "stage 2: most epochs")
	fs.Float64Var(&cfg.FineTune.LearningRate, "fine-tune-lr", d.FineTune.LearningRate, "stage 2: peak learning rate")
	fs.BoolVar(&cfg.Int8, "int8", d.Int8, "also write the int8 model")
	fs.IntVar(&cfg.Workers, "workers", 0, "parallel backbone runs (default: the number of CPUs)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if cfg.Data == "" || cfg.Backbone == "" || cfg.Out == "" {
		fs.Usage()
		return fmt.Errorf("need --data, --backbone and --out")
	}
	var err error
	if cfg.Fit, err = camera.ParseFit(*fit); err != nil {
		return err
	}
	if cfg.Ratios, err = parseRatios(*split); err != nil {
		return err
	}
	cfg.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := trainer.Train(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", res.Out)
	return nil
}

func parseRatios(s string) (trainer.Ratios, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return trainer.Ratios{}, fmt.Errorf("--split %q: want three shares train,val,test", s)
	}
	var v [3]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return trainer.Ratios{}, fmt.Errorf("--split %q: %w", s, err)
		}
		v[i] = f
	}
	r := trainer.Ratios{Train: v[0], Val: v[1], Test: v[2]}
	return r, r.Check()
}
