//go:build bench && debugmetrics

package bench

import (
	"fmt"
	"os"
	"sort"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

var inm = metrics.NewInmemSink(time.Minute, time.Hour)

func init() {
	metrics.NewGlobal(metrics.DefaultConfig("x"), inm)
	go func() {
		time.Sleep(14 * time.Second)
		d := inm.Data()
		for _, iv := range d {
			var keys []string
			for k := range iv.Samples {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s := iv.Samples[k]
				fmt.Fprintf(os.Stderr, "%-60s n=%6d mean=%8.3f max=%8.3f\n", k, s.Count, s.Sum/float64(s.Count), s.Max)
			}
		}
	}()
}
