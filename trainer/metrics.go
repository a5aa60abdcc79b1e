package trainer

import (
	"fmt"
	"strings"
)

// Metrics are the classification metrics of a model on labelled images.
type Metrics struct {
	Classes  []string `json:"classes"`
	N        int      `json:"n"`
	Correct  int      `json:"correct"`
	Accuracy float64  `json:"accuracy"` // top-1
	MacroF1  float64  `json:"macro_f1"`
	// Confusion[t][p] counts images of class t predicted as p; a last
	// column counts predictions outside Classes (a model's other labels).
	Confusion [][]int        `json:"confusion"`
	PerClass  []ClassMetrics `json:"per_class"`
}

// ClassMetrics are one class's precision, recall and F1.
type ClassMetrics struct {
	Class     string  `json:"class"`
	Support   int     `json:"support"` // images of the class
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// ComputeMetrics compares predictions with the truth; a prediction of -1
// (or any index outside classes) is a class the data does not have.
func ComputeMetrics(classes []string, truth, pred []int) Metrics {
	k := len(classes)
	m := Metrics{Classes: classes, N: len(truth), Confusion: make([][]int, k)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k+1)
	}
	for i, t := range truth {
		p := pred[i]
		if p < 0 || p >= k {
			p = k
		}
		m.Confusion[t][p]++
		if p == t {
			m.Correct++
		}
	}
	if m.N > 0 {
		m.Accuracy = float64(m.Correct) / float64(m.N)
	}
	for c := 0; c < k; c++ {
		tp := m.Confusion[c][c]
		support, predicted := 0, 0
		for j := 0; j <= k; j++ {
			support += m.Confusion[c][j]
		}
		for t := 0; t < k; t++ {
			predicted += m.Confusion[t][c]
		}
		cm := ClassMetrics{Class: classes[c], Support: support}
		if predicted > 0 {
			cm.Precision = float64(tp) / float64(predicted)
		}
		if support > 0 {
			cm.Recall = float64(tp) / float64(support)
		}
		if cm.Precision+cm.Recall > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / (cm.Precision + cm.Recall)
		}
		m.PerClass = append(m.PerClass, cm)
		m.MacroF1 += cm.F1 / float64(k)
	}
	return m
}

// hasOther reports whether any prediction fell outside the classes.
func (m *Metrics) hasOther() bool {
	for _, row := range m.Confusion {
		if row[len(row)-1] > 0 {
			return true
		}
	}
	return false
}

// Text renders the metrics as plain-text tables: per-class precision,
// recall and F1, then the confusion matrix (rows: truth, columns:
// prediction).
func (m *Metrics) Text() string {
	var b strings.Builder
	w := 5
	for _, c := range m.Classes {
		w = max(w, len(c))
	}
	fmt.Fprintf(&b, "accuracy %.4f (%d/%d)  macro F1 %.4f\n\n", m.Accuracy, m.Correct, m.N, m.MacroF1)
	fmt.Fprintf(&b, "%-*s  %9s  %6s  %6s  %7s\n", w, "class", "precision", "recall", "f1", "support")
	for _, c := range m.PerClass {
		fmt.Fprintf(&b, "%-*s  %9.4f  %6.4f  %6.4f  %7d\n", w, c.Class, c.Precision, c.Recall, c.F1, c.Support)
	}
	fmt.Fprintf(&b, "\nconfusion (rows: true class, columns: predicted)\n%-*s", w, "")
	cols := len(m.Classes)
	if m.hasOther() {
		cols++
	}
	cw := 6
	for _, c := range m.Classes {
		cw = max(cw, len(c))
	}
	for j := 0; j < cols; j++ {
		name := "(other)"
		if j < len(m.Classes) {
			name = m.Classes[j]
		}
		fmt.Fprintf(&b, "  %*s", cw, name)
	}
	b.WriteByte('\n')
	for t, row := range m.Confusion {
		fmt.Fprintf(&b, "%-*s", w, m.Classes[t])
		for j := 0; j < cols; j++ {
			fmt.Fprintf(&b, "  %*d", cw, row[j])
		}
		b.WriteByte('\n')
	}
	return b.String()
}
