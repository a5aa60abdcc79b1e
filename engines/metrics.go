package engines

import "github.com/prometheus/client_golang/prometheus"

var (
	infoDesc = prometheus.NewDesc("edgeclass_engine_info",
		"The inference engine in use (value 1): backend, C library version, configured and active delegate.",
		[]string{"backend", "library", "delegate", "active"}, nil)
	fallbackDesc = prometheus.NewDesc("edgeclass_engine_fallback",
		"1 when the configured delegate is not available and models run on the CPU instead.", nil, nil)
	ratioDesc = prometheus.NewDesc("edgeclass_engine_delegated_ops_ratio",
		"Share of the current model's operators the delegate runs (absent when the library does not say).", nil, nil)
)

type collector struct {
	info      Info
	placement func() (Placement, bool)
}

// NewCollector exports what Select chose and, through placement (nil for
// none), where the current model's operators run.
func NewCollector(info Info, placement func() (Placement, bool)) prometheus.Collector {
	return collector{info, placement}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- infoDesc
	ch <- fallbackDesc
	ch <- ratioDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1, c.info.Backend, c.info.Library, c.info.Delegate, c.info.Active)
	fallback := c.info.Fallback != ""
	if c.placement != nil {
		if p, ok := c.placement(); ok {
			fallback = fallback || p.Fallback != ""
			if share := p.Share(); share >= 0 {
				ch <- prometheus.MustNewConstMetric(ratioDesc, prometheus.GaugeValue, share)
			}
		}
	}
	v := 0.0
	if fallback {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(fallbackDesc, prometheus.GaugeValue, v)
}
