package dispatch

import (
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// metadataInto reads a message's JetStream metadata from its reply subject
// into meta, as jetstream.Msg.Metadata does, but into memory the caller
// already holds (the delivery's), where Metadata allocates it for every
// delivery. A reply that is not an ack subject of either form goes to
// Metadata, which says what is wrong with it.
//
//	v1: $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
//	v2: $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>[.<token>…]
func metadataInto(m jetstream.Msg, meta *jetstream.MsgMetadata) error {
	if !parseAckReply(m.Reply(), meta) {
		return metadataCopy(m, meta)
	}
	return nil
}

// parseAckReply reads an ack subject of either form into meta; false when
// reply is not one.
func parseAckReply(reply string, meta *jetstream.MsgMetadata) bool {
	rest, ok := strings.CutPrefix(reply, "$JS.ACK.")
	if !ok {
		return false
	}
	var t [9]string
	n := strings.Count(rest, ".") + 1
	switch {
	case n == 7: // v1: no domain, no account hash
		for i := 2; i < 9; i++ {
			t[i], rest, _ = strings.Cut(rest, ".")
		}
	case n >= 9:
		for i := range t {
			t[i], rest, _ = strings.Cut(rest, ".")
		}
	default:
		return false
	}
	domain := t[0]
	if domain == "_" {
		domain = ""
	}
	*meta = jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Stream: parseNum(t[5]), Consumer: parseNum(t[6])},
		NumDelivered: parseNum(t[4]),
		NumPending:   parseNum(t[8]),
		Timestamp:    time.Unix(0, int64(parseNum(t[7]))),
		Stream:       t[2],
		Consumer:     t[3],
		Domain:       domain,
	}
	return true
}

func metadataCopy(m jetstream.Msg, meta *jetstream.MsgMetadata) error {
	got, err := m.Metadata()
	if err != nil {
		return err
	}
	*meta = *got
	return nil
}

// parseNum is nats.go's reading of a number token: 0 unless all digits.
func parseNum(s string) (n uint64) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n
}
