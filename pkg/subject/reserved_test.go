package subject_test

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Every subject Switchyard's streams, buckets and notices use is reserved,
// as the code names it: a rename or a new bucket cannot slip out.
func TestReservedCoversSwitchyardsOwnSubjects(t *testing.T) {
	reserved := subject.Reserved(nil)
	for _, s := range []string{
		subject.Event("order.created"), subject.TenantEvent("acme", "order.created"),
		bus.DeadLetterSubject("s"), bus.RedriveSubject("s"), dispatch.StateSubject("s"),
		"$KV." + bus.SinksBucket + ".s", "$KV." + bus.StateBucket + ".paused.s",
		"$JS.API.STREAM.PURGE.EVENTS", "$JS.ACK.EVENTS.s.1.1.1.1.0", "$O.bucket.C.x", "$SYS.REQ.SERVER.PING",
		"$JSC.R.x", "$NRG.x", "$MQTT.sess.x", "_INBOX.abc.def",
	} {
		if subject.ReservedBy(s, reserved) == "" {
			t.Errorf("%s is not reserved", s)
		}
	}
	custom := subject.Reserved([]string{"orders.>"})
	if subject.ReservedBy("orders.created", custom) != "orders.>" || subject.ReservedBy("events.x", custom) != "" {
		t.Error("Reserved does not follow the configured stream subjects")
	}
	for _, s := range []string{"bridge.>", "bridge.order.created", "JS.API.x", "KV.x", "INBOX.x", "switchyards.x"} {
		if r := subject.ReservedBy(s, reserved); r != "" {
			t.Errorf("%s: reserved by %s, want free", s, r)
		}
	}
}
