package format

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// buildDate formats a timestamp with a strftime(3) format, as gcloud's date() does.
// The resource may be an RFC 3339 string or a number of seconds (divided by unit).
// The time stays in the zone it was written in unless tz names another; a time
// without a zone is taken to be in tz_default, else in the local zone.
func buildDate(a args) (evalFunc, error) {
	layout := a.get("format", "%Y-%m-%dT%H:%M:%S")
	unit, err := a.float("unit", 1)
	if err != nil {
		return nil, err
	}
	if unit == 0 {
		return nil, fmt.Errorf("unit must not be 0")
	}
	out, err := zone(a.get("tz", ""))
	if err != nil {
		return nil, err
	}
	in, err := zone(a.get("tz_default", ""))
	if err != nil {
		return nil, err
	}
	return dateFunc(layout, unit, a.get("undefined", ""), in, out), nil
}

// buildISO is date() with the ISO 8601 layout gcloud's iso() uses.
func buildISO(a args) (evalFunc, error) {
	return dateFunc("%Y-%m-%dT%H:%M:%S.%3f%Oz", 1, a.get("undefined", "T"), nil, nil), nil
}

func dateFunc(layout string, unit float64, undefined string, in, out *time.Location) evalFunc {
	return func(v, _ any) any {
		t, ok := toTime(v, unit, in)
		if !ok {
			return undefined
		}
		if out != nil {
			t = t.In(out)
		}
		return strftime(t, layout)
	}
}

// zone resolves a time zone name; "" is none, LOCAL the machine's.
func zone(name string) (*time.Location, error) {
	switch strings.ToUpper(name) {
	case "":
		return nil, nil
	case "UTC", "Z":
		return time.UTC, nil
	case "LOCAL":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// toTime reads v as a time: a date-time string, or seconds since the epoch.
func toTime(v any, unit float64, in *time.Location) (time.Time, bool) {
	if in == nil {
		in = time.Local
	}
	if f, ok := toFloat(v); ok {
		secs := f / unit
		// Beyond ±10^11 s (about 3000 years) a number is not a timestamp.
		if math.IsNaN(secs) || math.Abs(secs) > 1e11 {
			return time.Time{}, false
		}
		whole, frac := math.Modf(secs)
		return time.Unix(int64(whole), int64(frac*1e9)).In(in), true
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	s = strings.TrimSpace(s)
	// The forms of timestamps APIs send, with and without a zone.
	layouts := [...]string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02",
	}
	for _, layout := range layouts {
		if t, err := time.ParseInLocation(layout, s, in); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// strftime formats t with C's strftime directives, plus gcloud's %Nf (N digits of
// the second's fraction), %Ez (Z or ±hh:mm) and %Oz (±hh:mm). Unknown directives
// are printed as written.
func strftime(t time.Time, layout string) string {
	var b strings.Builder
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' || i+1 == len(layout) {
			b.WriteByte(c)
			continue
		}
		i++
		d := layout[i]
		switch {
		case d >= '1' && d <= '9' && i+1 < len(layout) && layout[i+1] == 'f':
			n := int(d - '0')
			frac := fmt.Sprintf("%09d", t.Nanosecond())
			b.WriteString(frac[:n])
			i++
		case (d == 'E' || d == 'O') && i+1 < len(layout) && layout[i+1] == 'z':
			b.WriteString(zoneOffset(t, d == 'E'))
			i++
		default:
			if s, ok := directive(t, d); ok {
				b.WriteString(s)
			} else {
				b.WriteString(layout[i-1 : i+1])
			}
		}
	}
	return b.String()
}

// zoneOffset writes t's offset as ±hh:mm, or Z for UTC when zulu is set.
func zoneOffset(t time.Time, zulu bool) string {
	_, off := t.Zone()
	if off == 0 && zulu {
		return "Z"
	}
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%c%02d:%02d", sign, off/3600, off/60%60)
}

// directive formats one strftime conversion.
func directive(t time.Time, d byte) (string, bool) {
	two := func(n int) string { return fmt.Sprintf("%02d", n) }
	switch d {
	case 'Y':
		return fmt.Sprintf("%04d", t.Year()), true
	case 'y':
		return two(t.Year() % 100), true
	case 'm':
		return two(int(t.Month())), true
	case 'd':
		return two(t.Day()), true
	case 'e':
		return fmt.Sprintf("%2d", t.Day()), true
	case 'H':
		return two(t.Hour()), true
	case 'I':
		return two((t.Hour()+11)%12 + 1), true
	case 'M':
		return two(t.Minute()), true
	case 'S':
		return two(t.Second()), true
	case 'f':
		return fmt.Sprintf("%06d", t.Nanosecond()/1000), true
	case 'p':
		return t.Format("PM"), true
	case 'j':
		return fmt.Sprintf("%03d", t.YearDay()), true
	case 'a':
		return t.Format("Mon"), true
	case 'A':
		return t.Format("Monday"), true
	case 'b', 'h':
		return t.Format("Jan"), true
	case 'B':
		return t.Format("January"), true
	case 'u':
		return strconv.Itoa((int(t.Weekday())+6)%7 + 1), true
	case 'w':
		return strconv.Itoa(int(t.Weekday())), true
	case 'z':
		return t.Format("-0700"), true
	case 'Z':
		name, _ := t.Zone()
		return name, true
	case 's':
		return strconv.FormatInt(t.Unix(), 10), true
	case 'F':
		return t.Format("2006-01-02"), true
	case 'T':
		return t.Format("15:04:05"), true
	case 'R':
		return t.Format("15:04"), true
	case 'D':
		return t.Format("01/02/06"), true
	case 'n':
		return "\n", true
	case 't':
		return "\t", true
	case '%':
		return "%", true
	}
	return "", false
}
