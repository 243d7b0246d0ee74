package gocloud

import (
	"context"
	"net/url"
	"sort"
	"strings"

	"gocloud.dev/pubsub"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink"
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
		Open: func(ctx context.Context, c *Config, _ config.Sink, _ sink.Env) (sink.Driver, error) {
			return New(ctx, *c)
		},
	})
}

func validate(g *Config, chk *config.Check) {
	u, err := url.Parse(g.URL)
	switch {
	case g.URL == "":
		chk.At("url", "missing: a gocloud.dev/pubsub topic URL such as awssqs://… or kafka://topic")
	case err != nil:
		chk.At("url", "%v", err)
	case !pubsub.DefaultURLMux().ValidTopicScheme(u.Scheme):
		chk.At("url", "scheme %q is not one of %s", u.Scheme, strings.Join(Schemes(), ", "))
	}
}

// Schemes lists the topic URL schemes compiled in, as gocloud's default URL
// mux knows them.
func Schemes() []string {
	s := pubsub.DefaultURLMux().TopicSchemes()
	sort.Strings(s)
	return s
}
