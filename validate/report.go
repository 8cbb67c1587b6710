package validate

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
)

// Report is what an HTML report shows: the statistics of a data set,
// optionally a base data set to compare with, the anomalies found and the
// distances between the two.
type Report struct {
	Title     string
	Current   *Stats
	Base      *Stats // nil without a comparison
	Anomalies []Anomaly
	Distances []Distance
}

// reportBins is the number of bins of the report's histograms.
const reportBins = 20

// WriteHTML writes the report as one self-contained HTML page (inline CSS
// and SVG, no scripts or external resources): a table per feature kind
// with each feature's statistics and its histogram or top values, the
// base data set drawn beside the current one, anomalies and distances
// over threshold highlighted.
func (r *Report) WriteHTML(w io.Writer) error {
	flagged := map[string]bool{}
	for _, a := range r.Anomalies {
		flagged[a.Feature] = true
	}
	dist := map[string]Distance{}
	for _, d := range r.Distances {
		dist[d.Feature] = d
		if d.Exceeds {
			flagged[d.Feature] = true
		}
	}
	type row struct {
		Name, Type, Count, Missing, A, B, C, D, E, Distance string
		Chart                                               template.HTML
		Flag, DistFlag                                      bool
	}
	var numeric, categorical []row
	for _, f := range r.Current.Features {
		var bf *FeatureStats
		if r.Base != nil {
			bf = r.Base.Feature(f.Name)
		}
		rw := row{Name: f.Name, Type: string(f.Type), Count: fmt.Sprint(f.Count), Flag: flagged[f.Name],
			Missing: pct(f.Missing, r.Current.Rows)}
		if d, ok := dist[f.Name]; ok {
			rw.Distance = fmt.Sprintf("%s %.4g", map[string]string{LInfinity: "L∞", JensenShannon: "JSD"}[d.Measure], d.Value)
			if d.Threshold > 0 {
				rw.Distance += fmt.Sprintf(" / %g", d.Threshold)
			}
			rw.DistFlag = d.Exceeds
		}
		n := f.Numeric
		switch f.Type {
		case TypeInt, TypeFloat:
			rw.A, rw.B = g4(n.Mean), g4(n.Std)
			rw.C, rw.D, rw.E = pct(n.Zeros, f.Count), g4(n.Min), g4(n.Max)
			if len(n.Quantiles) > 5 {
				rw.D = fmt.Sprintf("%s / %s / %s", g4(n.Min), g4(n.Quantiles[5]), g4(n.Max))
			}
			rw.Chart = histogramSVG(f, bf)
			numeric = append(numeric, rw)
		default:
			rw.A = fmt.Sprint(f.Distinct)
			if !f.DistinctExact {
				rw.A = "≈" + rw.A
			}
			rw.B = g4(f.String.AvgLength)
			rw.Chart = topSVG(f, bf)
			categorical = append(categorical, rw)
		}
	}
	data := map[string]any{
		"Title": r.Title, "Cur": r.Current, "Base": r.Base, "Anomalies": r.Anomalies,
		"Numeric": numeric, "Categorical": categorical, "Exceeded": exceeded(r.Distances),
	}
	return reportTemplate.Execute(w, data)
}

func exceeded(ds []Distance) []Distance {
	var out []Distance
	for _, d := range ds {
		if d.Exceeds {
			out = append(out, d)
		}
	}
	return out
}

func pct(a, b int64) string {
	if b == 0 {
		return "–"
	}
	p := 100 * float64(a) / float64(b)
	switch {
	case a > 0 && p < 0.005:
		return "<0.01%"
	case a < b && p >= 99.995:
		return ">99.99%"
	}
	return fmt.Sprintf("%.2f%%", p)
}

func g4(x float64) string { return fmt.Sprintf("%.4g", x) }

// histogramSVG draws the current feature's histogram over reportBins bins
// of the combined range, with the base's (when given) beside each bar.
func histogramSVG(f, base *FeatureStats) template.HTML {
	n := f.Numeric
	if n.Moments.N == 0 {
		return ""
	}
	lo, hi := n.Min, n.Max
	if base != nil && base.Numeric.Moments.N > 0 {
		lo, hi = JSDBins(f, base)
	} else {
		base = nil
	}
	series := [][]float64{normalise(rebin(n.Grid.masses(n.Min, n.Max), lo, hi, reportBins))}
	if base != nil {
		b := base.Numeric
		series = append(series, normalise(rebin(b.Grid.masses(b.Min, b.Max), lo, hi, reportBins)))
	}
	const W, H = 260.0, 70.0
	var top float64
	for _, s := range series {
		for _, v := range s {
			top = math.Max(top, v)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg width="%g" height="%g" viewBox="0 0 %g %g" role="img"><title>%s over [%s, %s]</title>`, W, H+12, W, H+12, html.EscapeString(f.Name), g4(lo), g4(hi))
	bw := W / reportBins / float64(len(series))
	for si, s := range series {
		color := "#3b6fd4"
		if si == 1 {
			color = "#e08a2c"
		}
		for i, v := range s {
			h := 0.0
			if top > 0 {
				h = v / top * H
			}
			x := float64(i)*W/reportBins + float64(si)*bw
			fmt.Fprintf(&sb, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"><title>%.3g%%</title></rect>`, x, H-h, bw*0.9, h, color, 100*v)
		}
	}
	fmt.Fprintf(&sb, `<text x="0" y="%g" font-size="9">%s</text><text x="%g" y="%g" font-size="9" text-anchor="end">%s</text></svg>`, H+10, g4(lo), W, H+10, g4(hi))
	return template.HTML(sb.String())
}

// topSVG draws the shares of the current feature's most frequent values,
// with the base's share of the same values beside them.
func topSVG(f, base *FeatureStats) template.HTML {
	top := f.String.Values.Top(8)
	if len(top) == 0 {
		return ""
	}
	tc := sumCounts(f.String.Values.Counts)
	var bc int64
	if base != nil {
		bc = sumCounts(base.String.Values.Counts)
	}
	const W, row = 260.0, 14.0
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg width="%g" height="%g" role="img">`, W, row*float64(len(top))+2)
	for i, vc := range top {
		y := float64(i) * row
		p := frac(vc.Count, tc)
		fmt.Fprintf(&sb, `<rect x="110" y="%.1f" width="%.1f" height="5" fill="#3b6fd4"><title>%.3g%%</title></rect>`, y+2, p*150, 100*p)
		if base != nil {
			q := frac(base.String.Values.Counts[vc.Value], bc)
			fmt.Fprintf(&sb, `<rect x="110" y="%.1f" width="%.1f" height="5" fill="#e08a2c"><title>base %.3g%%</title></rect>`, y+7, q*150, 100*q)
		}
		label := vc.Value
		if len(label) > 22 {
			label = label[:21] + "…"
		}
		fmt.Fprintf(&sb, `<text x="0" y="%.1f" font-size="10">%s</text>`, y+10, html.EscapeString(label))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

func normalise(xs []float64) []float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	if s == 0 {
		return xs
	}
	for i := range xs {
		xs[i] /= s
	}
	return xs
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:middle}
th{background:#f4f4f4}tr.flag td{background:#fde8e8}td.bad{color:#b00020;font-weight:600}
.key span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
</style></head><body>
<h1>{{.Title}}</h1>
<p>{{range .Cur.Sources}}{{.}} {{end}}: {{.Cur.Rows}} rows{{if .Cur.RaggedRows}}, {{.Cur.RaggedRows}} ragged rows left out{{end}}.
{{if .Base}}Compared with {{range .Base.Sources}}{{.}} {{end}}: {{.Base.Rows}} rows.{{end}}</p>
<p class="key"><span style="background:#3b6fd4"></span>current{{if .Base}}<span style="background:#e08a2c"></span>base{{end}}</p>
<h2>Anomalies ({{len .Anomalies}})</h2>
{{if .Anomalies}}<table><tr><th>kind</th><th>feature</th><th>severity</th><th>description</th><th>examples</th></tr>
{{range .Anomalies}}<tr class="flag"><td>{{.Kind}}</td><td>{{.Feature}}</td><td>{{.Severity}}</td><td>{{.Description}}</td><td>{{range .Examples}}{{.}} {{end}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
{{if .Base}}<h2>Distances over threshold ({{len .Exceeded}})</h2>
{{if .Exceeded}}<table><tr><th>feature</th><th>measure</th><th>value</th><th>threshold</th></tr>
{{range .Exceeded}}<tr class="flag"><td>{{.Feature}}</td><td>{{.Measure}}</td><td>{{printf "%.4g" .Value}}</td><td>{{.Threshold}}</td></tr>{{end}}
</table>{{else}}<p>None.</p>{{end}}{{end}}
<h2>Numeric features ({{len .Numeric}})</h2>
<table><tr><th>feature</th><th>type</th><th>count</th><th>missing</th><th>mean</th><th>std</th><th>zeros</th><th>min / median / max</th>{{if .Base}}<th>distance</th>{{end}}<th>histogram</th></tr>
{{range .Numeric}}<tr{{if .Flag}} class="flag"{{end}}><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.Count}}</td><td>{{.Missing}}</td><td>{{.A}}</td><td>{{.B}}</td><td>{{.C}}</td><td>{{.D}}</td>{{if $.Base}}<td{{if .DistFlag}} class="bad"{{end}}>{{.Distance}}</td>{{end}}<td>{{.Chart}}</td></tr>
{{end}}</table>
<h2>Categorical features ({{len .Categorical}})</h2>
<table><tr><th>feature</th><th>type</th><th>count</th><th>missing</th><th>distinct</th><th>avg length</th>{{if .Base}}<th>distance</th>{{end}}<th>top values</th></tr>
{{range .Categorical}}<tr{{if .Flag}} class="flag"{{end}}><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.Count}}</td><td>{{.Missing}}</td><td>{{.A}}</td><td>{{.B}}</td>{{if $.Base}}<td{{if .DistFlag}} class="bad"{{end}}>{{.Distance}}</td>{{end}}<td>{{.Chart}}</td></tr>
{{end}}</table>
</body></html>
`))
