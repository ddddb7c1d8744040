package bench

import (
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The report's charts, drawn with gonum.org/v1/plot (PNG, next to the report).

const chartW, chartH = 7 * vg.Inch, 4.5 * vg.Inch

// convergenceChart: cold-start convergence time against the channel count,
// from process start and from the first LIST, beside the write floor measured
// in the same run for the same count.
func convergenceChart(results []result, path string) error {
	var cold []result
	for _, r := range results {
		if r.cold {
			cold = append(cold, r)
		}
	}
	if len(cold) == 0 {
		return fmt.Errorf("no cold-start scenario")
	}
	slices.SortStableFunc(cold, func(a, b result) int { return a.channels() - b.channels() })
	p := plot.New()
	p.Title.Text = "Cold start: convergence vs the API server's write floor"
	p.X.Label.Text = "channels"
	p.Y.Label.Text = "seconds"
	p.Y.Min = 0
	series := func(f func(result) float64) plotter.XYs {
		xys := make(plotter.XYs, len(cold))
		for i, r := range cold {
			xys[i] = plotter.XY{X: float64(r.channels()), Y: f(r)}
		}
		return xys
	}
	floor := series(func(r result) float64 { return r.floor.Seconds() })
	goal := series(func(r result) float64 { return 1.25 * r.floor.Seconds() })
	if err := plotutil.AddLinePoints(p,
		"agent, from process start", series(func(r result) float64 { return r.fromStart.Seconds() }),
		"agent, from its first LIST", series(func(r result) float64 { return r.fromList.Seconds() }),
		"write floor (SPEC §9: bare client, two writes per channel)", floor,
		"the agent's own requests at a bare client's pace", series(func(r result) float64 { return r.floors.ownRequests.Seconds() }),
	); err != nil {
		return err
	}
	g, err := plotter.NewLine(goal)
	if err != nil {
		return err
	}
	g.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	g.Color = color.Gray{Y: 120}
	p.Add(g)
	p.Legend.Add("goal: 1.25 x floor", g)
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: floor, Labels: names(cold)})
	if err != nil {
		return err
	}
	labels.Offset = vg.Point{X: vg.Points(-20), Y: vg.Points(-12)}
	p.Add(labels)
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(chartW, chartH, path)
}

func names(rs []result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.name
	}
	return out
}

// plannerChart: one plan's time against the channel count (log scale), cold
// and steady, with the Python controller's published figures beside them.
func plannerChart(points []plannerPoint, path string) error {
	p := plot.New()
	p.Title.Text = "Planner: one plan of a mux (2 ports a channel, half auto)"
	p.X.Label.Text = "channels"
	p.Y.Label.Text = "milliseconds (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var args []any
	for _, mode := range []string{"cold", "steady"} {
		var xys plotter.XYs
		for _, pt := range points {
			if pt.mode == mode {
				xys = append(xys, plotter.XY{X: float64(pt.channels), Y: pt.ms()})
			}
		}
		if len(xys) > 0 {
			args = append(args, "svcmux pkg/plan, "+mode+" pass", xys)
		}
	}
	var py plotter.XYs
	for _, ref := range pythonPlanning {
		py = append(py, plotter.XY{X: float64(ref.channels), Y: ref.ms})
	}
	args = append(args, "Python controller (published, not re-run)", py)
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Y.Max *= 5 // room above the highest line for the legend (log scale)
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(chartW, chartH, path)
}

// writesChart: the writes each phase made beside the minimum it needs.
func writesChart(results []result, path string) error {
	var made, least plotter.Values
	var labels []string
	for _, r := range results {
		made, least = append(made, float64(r.conv.totalWrites())), append(least, float64(r.minWrites()))
		labels = append(labels, r.name)
		if c := r.churn; c != nil {
			labels[len(labels)-1] += " (cold start)"
			made, least = append(made, float64(c.writes.totalWrites())), append(least, float64(c.minWrites(r.muxes)))
			labels = append(labels, r.name+" (churn)")
		}
	}
	p := plot.New()
	p.Title.Text = "Writes made vs the minimum (churn: lower bound, one pass per mux)"
	p.Y.Label.Text = "API writes"
	w := vg.Points(14)
	bars := []struct {
		name string
		vs   plotter.Values
		off  vg.Length
	}{{"writes made", made, -w / 2}, {"minimum", least, w / 2}}
	for i, b := range bars {
		bc, err := plotter.NewBarChart(b.vs, w)
		if err != nil {
			return err
		}
		bc.LineStyle.Width = 0
		bc.Color = plotutil.Color(i)
		bc.Offset = b.off
		p.Add(bc)
		p.Legend.Add(b.name, bc)
	}
	p.Y.Min, p.Y.Max = 0, 1.2*slices.Max(append(made, least...)) // room for the legend
	p.NominalX(labels...)
	p.X.Tick.Label.Rotation = 0.5
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.Legend.Top = true
	return p.Save(chartW, chartH, path)
}
