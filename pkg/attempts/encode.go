package attempts

import (
	"math"
	"strconv"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// appendJSON appends r as one JSON object, the fields and names of its
// json tags. Written by hand: one record per delivery attempt, and
// reflection was most of the attempt log's cost. TestRecordJSONRoundTrips
// checks it against encoding/json.
func (r *Record) appendJSON(b []byte) []byte {
	b = append(b, `{"event_id":`...)
	b = event.AppendJSONString(b, r.EventID)
	b = append(b, `,"sink":`...)
	b = event.AppendJSONString(b, r.Sink)
	b = append(b, `,"type":`...)
	b = event.AppendJSONString(b, r.Type)
	if r.Tenant != "" {
		b = append(b, `,"tenant":`...)
		b = event.AppendJSONString(b, r.Tenant)
	}
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(r.Attempt), 10)
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_ms":`...)
	b = appendFloat(b, r.DurationMS)
	b = append(b, `,"outcome":`...)
	b = event.AppendJSONString(b, r.Outcome)
	if r.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(r.Status), 10)
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = event.AppendJSONString(b, r.Error)
	}
	if r.Response != "" {
		b = append(b, `,"response":`...)
		b = event.AppendJSONString(b, r.Response)
	}
	if r.TraceID != "" {
		b = append(b, `,"trace_id":`...)
		b = event.AppendJSONString(b, r.TraceID)
	}
	b = append(b, `,"stream":`...)
	b = event.AppendJSONString(b, r.Stream)
	b = append(b, `,"stream_seq":`...)
	b = strconv.AppendUint(b, r.StreamSeq, 10)
	if r.Incarnation != "" {
		b = append(b, `,"incarnation":`...)
		b = event.AppendJSONString(b, r.Incarnation)
	}
	return append(b, '}')
}

// appendFloat writes f as encoding/json does; NaN and ±Inf, which JSON
// cannot carry, as 0.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}
