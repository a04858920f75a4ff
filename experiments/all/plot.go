package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one line of a chart; modelled series are drawn dashed and
// hollow so they are never mistaken for measurements.
type series struct {
	Name     string
	X, Y     []float64
	Modelled bool
	Color    int // palette index; series of one model share a colour
	Shape    int // glyph index
}

type chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []series
	HLine                 float64 // > 0: a horizontal reference line
	HLineName             string
	Nominal               []string  // categorical x axis (X values are indices)
	XTicks                []float64 // explicit x ticks (log axes)
}

// headroom raises the y axis so that the legend (top left) clears the data.
func headroom(p *plot.Plot, log bool, entries int) {
	frac := min(0.4, 0.12+0.035*float64(entries)) // of the axis height kept for the legend
	if log {
		lo, hi := math.Log10(p.Y.Min), math.Log10(p.Y.Max)
		p.Y.Max = math.Pow(10, lo+(hi-lo)/(1-frac))
		return
	}
	p.Y.Max = p.Y.Min + (p.Y.Max-p.Y.Min)/(1-frac)
}

// newPlot is a plot in the report's style: its title, the y axis's label
// and the legend's fonts, the legend at the top, a grid, and a log y axis
// with logY.
func newPlot(title, yLabel string, logY bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())
	if logY {
		logAxis(&p.Y)
	}
	return p
}

func logAxis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = plot.LogTicks{Prec: -1}
}

func (c chart) save(dir, file string) error {
	p := newPlot(c.Title, c.YLabel, c.LogY)
	p.X.Label.Text = c.XLabel
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Legend.Left = true
	if c.LogX {
		logAxis(&p.X)
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		pts := make(plotter.XYs, 0, len(s.X))
		for i := range s.X {
			if c.LogY && s.Y[i] <= 0 || math.IsNaN(s.Y[i]) {
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[i], Y: s.Y[i]})
			xmin, xmax = min(xmin, s.X[i]), max(xmax, s.X[i])
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		col := plotutil.Color(s.Color)
		l.Color, sc.Color = col, col
		l.Width = vg.Points(1.5)
		sc.Shape = plotutil.Shape(s.Shape)
		sc.Radius = vg.Points(3)
		name := s.Name
		if s.Modelled {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			sc.Shape = draw.RingGlyph{}
			if len(pts) > 12 {
				sc.Radius = 0
			}
		}
		p.Add(l, sc)
		p.Legend.Add(name, l, sc)
	}
	if c.HLine > 0 && xmax >= xmin {
		pad := (xmax - xmin) * 0.02
		if c.LogX {
			pad = 0
		}
		l, err := plotter.NewLine(plotter.XYs{{X: xmin - pad, Y: c.HLine}, {X: xmax + pad, Y: c.HLine}})
		if err != nil {
			return err
		}
		l.Color = color.RGBA{R: 200, A: 255}
		l.Width = vg.Points(1)
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		p.Legend.Add(c.HLineName, l)
	}
	if c.XTicks != nil {
		var ticks []plot.Tick
		for _, x := range c.XTicks {
			ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprintf("%g", x)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	headroom(p, c.LogY, len(c.Series)+1)
	if c.Nominal != nil {
		p.NominalX(c.Nominal...)
		p.X.Min, p.X.Max = -0.3, float64(len(c.Nominal))-0.7
	}
	h := 12 * vg.Centimeter
	if len(c.Series) > 6 {
		h = 16 * vg.Centimeter
	}
	return p.Save(18*vg.Centimeter, h, filepath.Join(dir, file))
}

// bars is a grouped bar chart over nominal categories.
type bars struct {
	Title, YLabel string
	Groups        []string    // x categories
	Names         []string    // one bar per name within each group
	Values        [][]float64 // [name][group]
	LogY          bool
}

func (b bars) save(dir, file string) error {
	p := newPlot(b.Title, b.YLabel, b.LogY)
	w := vg.Points(float64(110 / max(1, len(b.Names))))
	if w < vg.Points(6) {
		w = vg.Points(6)
	}
	for i, name := range b.Names {
		vals := make(plotter.Values, len(b.Groups))
		copy(vals, b.Values[i])
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		bc.Color = plotutil.Color(i)
		bc.LineStyle.Width = 0
		bc.Offset = w * vg.Length(float64(i)-float64(len(b.Names)-1)/2)
		p.Add(bc)
		p.Legend.Add(name, bc)
	}
	p.NominalX(b.Groups...)
	headroom(p, b.LogY, len(b.Names))
	return p.Save(18*vg.Centimeter, 12*vg.Centimeter, filepath.Join(dir, file))
}
