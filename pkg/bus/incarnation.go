package bus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// MetaIncarnation is the consumer metadata key naming the sink
// incarnation a consumer belongs to. A consumer keeps its sink's name
// (renaming it would lose its position), so a sink deleted and created
// again under that name meets a consumer of the same name: the
// incarnation says whether it is its own.
const MetaIncarnation = "switchyard_incarnation"

// withIncarnation makes cc incarnation inc's: named in its metadata, and
// enforced by the server through a priority group derived from it. A
// sink's pulls name its group (IncarnationGroup); the server refuses a
// pull naming a group the consumer does not have (400 Bad Request), so a
// pull of a sink deleted and created again elsewhere never draws from the
// new sink's consumer of the same name, at no cost to the pulls of the
// right one. With "overflow" and no minimums in the pull, delivery is
// what it is without a policy; pulls that name no group (replays, tools)
// are served as by a consumer without groups.
func withIncarnation(cc *jetstream.ConsumerConfig, inc string) {
	if inc == "" {
		return
	}
	cc.Metadata = map[string]string{MetaIncarnation: inc}
	cc.PriorityPolicy = jetstream.PriorityPolicyOverflow
	cc.PriorityGroups = []string{IncarnationGroup(inc)}
}

// IncarnationGroup is the priority group of incarnation inc's consumers:
// 16 hex digits of its hash (group names are at most 16 characters).
func IncarnationGroup(inc string) string {
	sum := sha256.Sum256([]byte(inc))
	return hex.EncodeToString(sum[:8])
}

// ErrSinkReplaced says that a consumer (or a dead letter) is not the
// asking sink's: the sink was deleted, or created again as another
// incarnation. Nothing retries it: the asker stops.
var ErrSinkReplaced = errors.New("the sink was deleted or created again")

// IncarnationError is a consumer found to belong to another incarnation.
type IncarnationError struct {
	Consumer string
	Have     string // the consumer's incarnation
	Want     string // the asker's
}

func (e *IncarnationError) Error() string {
	return fmt.Sprintf("consumer %s belongs to sink incarnation %s, not %s: %v", e.Consumer, e.Have, e.Want, ErrSinkReplaced)
}

// Is makes an IncarnationError an ErrSinkReplaced.
func (e *IncarnationError) Is(target error) bool { return target == ErrSinkReplaced }

// IncarnationOf is the incarnation a consumer's config names, "" for a
// consumer made before incarnations (or not a sink's).
func IncarnationOf(cc jetstream.ConsumerConfig) string { return cc.Metadata[MetaIncarnation] }

// CheckIncarnation says whether the consumer described by info may be
// bound by a sink of incarnation want. A consumer without one (made
// before incarnations) may: the caller adopts it by writing its own.
// want "" checks nothing (tests, tools).
func CheckIncarnation(info *jetstream.ConsumerInfo, want string) error {
	have := IncarnationOf(info.Config)
	if want == "" || have == "" || have == want {
		return nil
	}
	return &IncarnationError{Consumer: info.Name, Have: have, Want: want}
}

// VerifyConsumer reads the consumer stream/name as it is now and checks
// that it is incarnation want's. A consumer not found is reported as
// jetstream.ErrConsumerNotFound: it may be lost and about to be
// recreated, so whose it is cannot be told.
func (b *Bus) VerifyConsumer(ctx context.Context, stream, name, want string) error {
	return VerifyConsumer(ctx, b.JS, stream, name, want)
}

// VerifyConsumer is Bus.VerifyConsumer on any JetStream context.
func VerifyConsumer(ctx context.Context, js jetstream.JetStream, stream, name, want string) error {
	c, err := js.Consumer(ctx, stream, name)
	if err != nil {
		return err
	}
	return CheckIncarnation(c.CachedInfo(), want)
}
