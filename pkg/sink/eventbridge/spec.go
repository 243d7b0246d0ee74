package eventbridge

import (
	"context"
	"net/url"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// Config is an eventbridge sink's block: an Amazon EventBridge bus,
// written with PutEvents.
type Config struct {
	Bus    string `yaml:"bus"`
	Region string `yaml:"region"`
	// Source is the PutEvents Source; "aws." prefixes are AWS's own.
	Source string `yaml:"source"`
	// DetailType is a text/template over the event; default the event type.
	DetailType string   `yaml:"detail_type"`
	Resources  []string `yaml:"resources"`
	// Endpoint overrides the service endpoint (an emulator); the standard
	// AWS_ENDPOINT_URL(_EVENTBRIDGE) variables work too.
	Endpoint string          `yaml:"endpoint"`
	RoleARN  string          `yaml:"role_arn"`
	Timeout  config.Duration `yaml:"timeout"`
}

func init() { sink.Register(Spec()) }

// Spec is the eventbridge kind; opts are added to the AWS config of every
// driver it opens (the default: none, the standard credential chain).
func Spec(opts ...func(*awsconfig.LoadOptions) error) sink.Spec[Config] {
	return sink.Spec[Config]{
		Kind:    "eventbridge",
		Summary: "Amazon EventBridge PutEvents, up to 10 entries and 256 KB a call",
		Fields: []config.FieldDoc{
			{Path: "bus", Doc: "event bus name or ARN"},
			{Path: "region", Default: "from the AWS chain", Doc: "AWS region"},
			{Path: "source", Required: true, Doc: "the entries' `Source`; must not start with `aws.`"},
			{Path: "detail_type", Default: "the event type", Doc: "template for `DetailType`"},
			{Path: "resources", Doc: "the entries' `Resources`"},
			{Path: "endpoint", Doc: "endpoint override (emulators)"},
			{Path: "role_arn", Doc: "a role to assume with STS"},
			{Path: "timeout", Doc: "per `PutEvents` call"},
		},
		MaxBatch: MaxEntries,
		Defaults: func(c *Config) {
			if c.Bus == "" {
				c.Bus = "default"
			}
		},
		Validate: validate,
		Open: func(ctx context.Context, c *Config, s config.Sink, _ sink.Env) (sink.Driver, error) {
			if s.Confined {
				// An API sink without api.allow: [private_networks]: its
				// endpoint (allowed or not) is dialed through the guard.
				return open(ctx, *c, netguard.HTTPClient(), opts...)
			}
			return New(ctx, *c, opts...)
		},
	}
}

func validate(e *Config, chk *config.Check) {
	switch {
	case e.Source == "":
		chk.At("source", "missing: the PutEvents Source, e.g. com.example.switchyard")
	case strings.HasPrefix(e.Source, "aws."):
		chk.At("source", "%q: sources starting with \"aws.\" are reserved for AWS services", e.Source)
	}
	sink.CheckTemplate(chk, "detail_type", e.DetailType, detailTypeOption)
	if e.Endpoint != "" {
		if u, err := url.Parse(e.Endpoint); err != nil || u.Host == "" {
			chk.At("endpoint", "%q is not a URL such as http://127.0.0.1:5000", e.Endpoint)
		}
	}
	if e.RoleARN != "" && !strings.HasPrefix(e.RoleARN, "arn:") {
		chk.At("role_arn", "%q is not an ARN", e.RoleARN)
	}
}
