package gocloud

import (
	"context"
	"path"
	"sort"
	"strings"

	"gocloud.dev/pubsub"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Config is a gocloud sink's block: any gocloud.dev/pubsub topic URL.
type Config struct {
	URL     string          `yaml:"url"`
	Timeout config.Duration `yaml:"timeout"`
}

func init() {
	sink.Register(sink.Spec[Config]{
		Kind:    "gocloud",
		Summary: "Any gocloud.dev/pubsub topic URL: awssqs, awssns, kafka, rabbit, azuresb, gcppubsubv2, nats, mem",
		Fields: []config.FieldDoc{
			{Path: "url", Required: true, Doc: "a gocloud.dev/pubsub topic URL"},
			{Path: "timeout", Doc: "per send"},
		},
		MaxBatch: MaxBatch,
		Validate: validate,
		APIUses:  apiUses,
		Open: func(ctx context.Context, c *Config, s config.Sink, _ sink.Env) (sink.Driver, error) {
			return Open(ctx, *c, s.Confined)
		},
	})
}

func validate(g *Config, chk *config.Check) {
	u := chk.URL("url", g.URL, "a gocloud.dev/pubsub topic URL such as awssqs://… or kafka://topic")
	switch {
	case u == nil:
	case !pubsub.DefaultURLMux().ValidTopicScheme(u.Scheme):
		chk.At("url", "scheme %q is not one of %s", u.Scheme, strings.Join(Schemes(), ", "))
	case u.Scheme == "nats":
		// Core NATS on the server NATS_SERVER_URL names, which may well be
		// the gateway's: never NATS's own subjects ($JS.API.…, $KV.…).
		subj := strings.TrimPrefix(path.Join(u.Host, u.Path), "/")
		if r := subject.ReservedBy(subj, subject.System()); r != "" {
			chk.At("url", "subject %q overlaps %q, which NATS itself serves (the JetStream API, KV buckets, object stores, the system account, replies): a sink may never publish there", subj, r)
		}
	}
}

// Schemes lists the topic URL schemes compiled in, as gocloud's default URL
// mux knows them.
func Schemes() []string {
	s := pubsub.DefaultURLMux().TopicSchemes()
	sort.Strings(s)
	return s
}
