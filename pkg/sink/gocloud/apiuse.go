package gocloud

import (
	"net/url"
	"regexp"

	"gocloud.dev/pubsub/awssnssqs"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// awsRegion is a plain region name (us-east-1, cn-north-1, us-gov-west-1):
// anything else is a way of picking an endpoint.
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// apiUses declares what api.allow governs in a topic URL, whatever the
// field name: the query parameters gocloud's openers read that borrow the
// gateway's identity, files or network position. Read from gocloud.dev
// v0.47: awssqs and awssns take aws.V2ConfigFromURLParams's endpoint
// (with hostname_immutable), profile (the shared config and credentials
// files), role (STS with the gateway's identity) and region, besides
// harmless ones (fips, dualstack, anonymous, rate_limiter_capacity,
// checksum settings, awssdk); an awssqs host is the queue URL's. kafka
// and rabbit take key_name, gcppubsubv2 max_send_batch_size, nats natsv2,
// azuresb and mem nothing: their servers come from the operator's
// environment. The query is read decoded, as gocloud reads it
// (%65ndpoint is endpoint).
func apiUses(c *Config) []config.Use {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != awssnssqs.SQSScheme && u.Scheme != awssnssqs.SNSScheme) {
		return nil
	}
	var out []config.Use
	q := u.Query()
	if q.Has("endpoint") {
		out = append(out, config.Use{Field: "url", Allow: config.AllowEndpoint,
			Why: "sends with the gateway's AWS credentials to an endpoint of the sink's choosing (the url's endpoint query)"})
	}
	if r := q.Get("region"); q.Has("region") && !awsRegion.MatchString(r) {
		out = append(out, config.Use{Field: "url", Allow: config.AllowEndpoint,
			Why: "picks the endpoint the gateway's AWS credentials go to (the url's region query is not a plain region name)"})
	}
	if q.Has("profile") {
		out = append(out, config.Use{Field: "url", Allow: config.AllowCredentialsFile,
			Why: "reads a profile of the gateway's AWS config and credentials files (the url's profile query)"})
	}
	if q.Has("role") {
		out = append(out, config.Use{Field: "url", Allow: config.AllowRoleARN,
			Why: "assumes a role with the gateway's identity (the url's role query)"})
	}
	if u.Scheme == awssnssqs.SQSScheme && netguard.PrivateHost(u.Hostname()) {
		out = append(out, config.Use{Field: "url", Allow: config.AllowPrivateNetworks,
			Why: "names a queue at " + u.Hostname() + ", a private or loopback address"})
	}
	return out
}
