package dispatch

import "testing"

func TestTraceIDOfTraceparent(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"", ""},
		{"garbage", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", ""},
	} {
		if got := traceID(tt.in); got != tt.want {
			t.Errorf("traceID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
