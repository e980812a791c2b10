package main

import (
	"fmt"
	"math"
	"strings"
)

// svg builds one SVG document as text. Every chart draws on a white
// background in absolute pixels, so it reads the same on GitHub's light and
// dark themes and needs no stylesheet.
type svg struct {
	b    strings.Builder
	w, h float64
}

const font = `font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"`

func newSVG(w, h float64, title, desc string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-labelledby="title desc" %s font-size="12">`+"\n", w, h, w, h, font)
	fmt.Fprintf(&s.b, "<title id=\"title\">%s</title>\n<desc id=\"desc\">%s</desc>\n", esc(title), esc(desc))
	fmt.Fprintf(&s.b, `<rect width="%g" height="%g" fill="#ffffff"/>`+"\n", w, h)
	s.text(w/2, 22, title, `font-size="15" font-weight="600" text-anchor="middle"`)
	return s
}

func (s *svg) String() string { return s.b.String() + "</svg>\n" }

// raw appends markup as is; attrs below are written by this package only.
func (s *svg) raw(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, t, attrs string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" %s>%s</text>`+"\n", x, y, attrs, esc(t))
}

func (s *svg) line(x1, y1, x2, y2 float64, attrs string) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" %s/>`+"\n", x1, y1, x2, y2, attrs)
}

func (s *svg) rect(x, y, w, h float64, attrs string) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" %s/>`+"\n", x, y, w, h, attrs)
}

// polyline draws points [x0, y0, x1, y1, ...].
func (s *svg) polyline(pts []float64, attrs string) {
	var b strings.Builder
	for i := 0; i+1 < len(pts); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", pts[i], pts[i+1])
	}
	fmt.Fprintf(&s.b, `<polyline points="%s" fill="none" %s/>`+"\n", b.String(), attrs)
}

func esc(t string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(t)
}

// scale maps data values onto pixels between lo and hi, linearly or by
// their logarithm.
type scale struct {
	min, max float64 // the data range shown
	lo, hi   float64 // pixels; hi < lo for a y axis
	log      bool
}

func (sc scale) at(v float64) float64 {
	a, b, x := sc.min, sc.max, v
	if sc.log {
		a, b, x = math.Log10(a), math.Log10(b), math.Log10(math.Max(v, sc.min))
	}
	if b == a {
		return (sc.lo + sc.hi) / 2
	}
	return sc.lo + (x-a)/(b-a)*(sc.hi-sc.lo)
}

// ticks are the values an axis labels: for a log scale 1, 2 and 5 (or 1
// and 3) times each power of ten when a decade is wide enough for their
// labels, whole decades otherwise; for a linear one about five round steps.
func (sc scale) ticks() []float64 {
	var ts []float64
	if sc.log {
		// Labels need about 50 pixels each.
		perDecade := math.Abs(sc.hi-sc.lo) / math.Log10(sc.max/sc.min)
		steps := []float64{1}
		switch {
		case perDecade >= 200:
			steps = []float64{1, 2, 5}
		case perDecade >= 110:
			steps = []float64{1, 3}
		}
		for p := math.Floor(math.Log10(sc.min)); p <= math.Ceil(math.Log10(sc.max)); p++ {
			for _, m := range steps {
				v := m * math.Pow(10, p)
				if v >= sc.min*0.999 && v <= sc.max*1.001 {
					ts = append(ts, v)
				}
			}
		}
		return ts
	}
	step := niceStep((sc.max - sc.min) / 5)
	for v := math.Ceil(sc.min/step) * step; v <= sc.max+step/1000; v += step {
		ts = append(ts, v)
	}
	return ts
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// logRange widens [lo, hi] to whole powers of ten around it (1, 2 or 5
// times one when that is tighter), for a log axis.
func logRange(lo, hi float64) (float64, float64) {
	down := func(v float64) float64 {
		p := math.Pow(10, math.Floor(math.Log10(v)))
		for _, m := range []float64{5, 2, 1} {
			if m*p <= v {
				return m * p
			}
		}
		return p
	}
	up := func(v float64) float64 {
		p := math.Pow(10, math.Floor(math.Log10(v)))
		for _, m := range []float64{1, 2, 5, 10} {
			if m*p >= v {
				return m * p
			}
		}
		return 10 * p
	}
	return down(lo), up(hi)
}

// Colours of the Okabe-Ito palette, told apart with any colour vision:
// Node orange and Caddy blue in every chart (a run of one server alone
// included), other servers the rest in their order.
var palette = []string{"#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"}

func colour(servers []string, srv string) string {
	switch srv {
	case "node":
		return palette[0]
	case "caddy":
		return palette[1]
	}
	k := 0
	for _, s := range servers {
		if s == srv {
			break
		}
		if s != "node" && s != "caddy" {
			k++
		}
	}
	return palette[2+k%(len(palette)-2)]
}

// legend draws one swatch and label per server, in a row ending at x, on
// the baseline y.
func (s *svg) legend(x, y float64, servers []string) {
	for i := len(servers) - 1; i >= 0; i-- {
		name := servers[i]
		w := 7*float64(len(name)) + 26
		x -= w
		s.raw(`<g class="legend" data-server="%s">`, esc(name))
		s.rect(x, y-9, 14, 10, fmt.Sprintf(`fill="%s"`, colour(servers, name)))
		s.text(x+19, y, name, `fill="#222"`)
		s.raw("</g>\n")
	}
}

// formatting of the values a reader sees.

// micros is a duration in microseconds, in µs, ms or s with 2 or 3
// significant digits.
func micros(v float64) string {
	switch {
	case v >= 1e6:
		return sig(v/1e6) + " s"
	case v >= 1e3:
		return sig(v/1e3) + " ms"
	}
	return sig(v) + " µs"
}

// kib is a byte count in KiB.
func kib(v float64) string { return sig(v/1024) + " KiB" }

// sig prints v with 3 significant digits at most, without trailing zeros,
// and thousands separators above 1,000.
func sig(v float64) string {
	switch {
	case v >= 1000:
		return thousands(int64(math.Round(v)))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return trim(fmt.Sprintf("%.1f", v))
	}
	return trim(fmt.Sprintf("%.2f", v))
}

func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
