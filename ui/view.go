package ui

import (
	"fmt"
	"html/template"
	"net/url"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case models.Time:
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *models.Time:
			if v == nil {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return fmt.Sprint(t)
	},
	"str": func(s *string) string {
		if s == nil {
			return "—"
		}
		return *s
	},
	"path": url.PathEscape,
	"count": func(n int64) string {
		s := fmt.Sprint(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	},
	"status": func(s any) string { return fmt.Sprint(s) },
}

// chart is the overview's bar chart of events per minute over the last
// hour, drawn as SVG on the server.
type chart struct {
	Bars  []bar
	Max   int64
	Total int64
	From  string
	To    string
}

type bar struct {
	X, Y, Height int
	Minute       string
	N            int64
}

const chartHeight = 100

func newChart(perMinute []store.Tally, now time.Time) chart {
	counts := map[string]int64{}
	for _, t := range perMinute {
		counts[t.Key] = t.N
	}
	start := now.Truncate(time.Minute).Add(-59 * time.Minute)
	c := chart{From: start.Format("15:04"), To: now.Format("15:04")}
	for i := range 60 {
		minute := start.Add(time.Duration(i) * time.Minute)
		n := counts[minute.Format("2006-01-02T15:04")]
		c.Bars = append(c.Bars, bar{X: i * 10, Minute: minute.Format("15:04"), N: n})
		c.Max = max(c.Max, n)
		c.Total += n
	}
	for i := range c.Bars {
		if c.Max > 0 {
			c.Bars[i].Height = int(c.Bars[i].N * chartHeight / c.Max)
		}
		if c.Bars[i].N > 0 && c.Bars[i].Height == 0 {
			c.Bars[i].Height = 1
		}
		c.Bars[i].Y = chartHeight - c.Bars[i].Height
	}
	return c
}
