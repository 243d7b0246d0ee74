package pubsub

import (
	"context"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// Config is a pubsub sink's block: a Google Cloud Pub/Sub topic.
type Config struct {
	Project string `yaml:"project"`
	Topic   string `yaml:"topic"`
	// OrderingKey is a text/template over the event, e.g. "{{.Subject}}";
	// set, it turns on ordered publishing.
	OrderingKey     string          `yaml:"ordering_key"`
	Endpoint        string          `yaml:"endpoint"`
	CredentialsFile string          `yaml:"credentials_file"`
	Timeout         config.Duration `yaml:"timeout"`
}

func init() {
	sink.Register(sink.Spec[Config]{
		Kind:    "pubsub",
		Summary: "Google Cloud Pub/Sub topic, batched on the client, optional ordering keys",
		Fields: []config.FieldDoc{
			{Path: "project", Required: true, Doc: "Google Cloud project id"},
			{Path: "topic", Required: true, Doc: "topic id, or `projects/P/topics/T`"},
			{Path: "ordering_key", Doc: "template for the ordering key; set, it turns on ordered publishing (the sink must then be `delivery: dedicated`)"},
			{Path: "endpoint", Doc: "emulator `host:port` (no TLS, no credentials)"},
			{Path: "credentials_file", Doc: "service account key file; default Application Default Credentials"},
			{Path: "timeout", Doc: "per publish"},
		},
		MaxBatch: MaxBatch,
		Validate: validate,
		// The driver keeps events of a key in order (sink.Ordered) when
		// ordering_key is set.
		OrderedBy: func(c *Config) string {
			if c.OrderingKey != "" {
				return "ordering_key"
			}
			return ""
		},
		Open: func(ctx context.Context, c *Config, s config.Sink, _ sink.Env) (sink.Driver, error) {
			return open(ctx, *c, s.Batch, s.Confined)
		},
	})
}

func validate(ps *Config, chk *config.Check) {
	if ps.Project == "" {
		chk.At("project", "missing: the Google Cloud project id")
	}
	if ps.Topic == "" {
		chk.At("topic", "missing: the topic id (or projects/P/topics/T)")
	}
	sink.CheckTemplate(chk, "ordering_key", ps.OrderingKey)
	chk.File("credentials_file", ps.CredentialsFile)
}
