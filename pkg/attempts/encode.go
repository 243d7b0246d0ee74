package attempts

import (
	"math"
	"strconv"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// appendJSON appends r as one JSON object, the fields and names of its
// json tags. Written by hand: one record per delivery attempt, and
// encoding/json's reflection would be most of the attempt log's cost
// (BenchmarkRecordJSON). TestRecordJSONRoundTrips
// checks it against encoding/json.
func (r *Record) appendJSON(b []byte) []byte {
	b = appendString(b, `{"event_id":`, r.EventID)
	b = appendString(b, `,"sink":`, r.Sink)
	b = appendString(b, `,"type":`, r.Type)
	b = appendStringOmitEmpty(b, `,"tenant":`, r.Tenant)
	b = appendInt(b, `,"attempt":`, int64(r.Attempt))
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_ms":`...)
	b = appendFloat(b, r.DurationMS)
	b = appendString(b, `,"outcome":`, r.Outcome)
	if r.Status != 0 {
		b = appendInt(b, `,"status":`, int64(r.Status))
	}
	b = appendStringOmitEmpty(b, `,"error":`, r.Error)
	b = appendStringOmitEmpty(b, `,"response":`, r.Response)
	b = appendStringOmitEmpty(b, `,"trace_id":`, r.TraceID)
	b = appendString(b, `,"stream":`, r.Stream)
	b = append(b, `,"stream_seq":`...)
	b = strconv.AppendUint(b, r.StreamSeq, 10)
	b = appendStringOmitEmpty(b, `,"incarnation":`, r.Incarnation)
	return append(b, '}')
}

// appendString appends key (the separator and the quoted name with its
// colon) and s as a JSON string.
func appendString(b []byte, key, s string) []byte {
	return event.AppendJSONString(append(b, key...), s)
}

// appendStringOmitEmpty is appendString for a field tagged omitempty.
func appendStringOmitEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(b, key, s)
}

// appendInt appends key and n.
func appendInt(b []byte, key string, n int64) []byte {
	return strconv.AppendInt(append(b, key...), n, 10)
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
