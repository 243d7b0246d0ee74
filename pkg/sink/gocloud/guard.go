package gocloud

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/awssnssqs"

	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// openGuarded opens an AWS topic URL whose requests dial through the SSRF
// guard: an API sink without api.allow: [private_networks] whose endpoint
// api.allow does allow, or a record stored before the rule. It mirrors
// awssnssqs.URLOpener.OpenTopicURL, which takes no HTTP client of the
// caller's. The other schemes reach the servers the operator's
// environment names (KAFKA_BROKERS, RABBIT_SERVER_URL, NATS_SERVER_URL,
// SERVICEBUS_CONNECTION_STRING, Google's and Azure's endpoints), never one
// of the sink's choosing: they open as they are.
func openGuarded(ctx context.Context, u *url.URL) (*pubsub.Topic, error) {
	if u.Scheme != awssnssqs.SQSScheme && u.Scheme != awssnssqs.SNSScheme {
		return pubsub.OpenTopic(ctx, u.String())
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, u.Query())
	if err != nil {
		return nil, fmt.Errorf("open topic %s: %w", u.Redacted(), err)
	}
	// Set after the config is loaded: the credential providers it
	// resolved (the instance metadata service among them) keep their own
	// client.
	cfg.HTTPClient = netguard.HTTPClient()
	if base := cfg.Retryer; base != nil {
		cfg.Retryer = func() aws.Retryer { return noRetryRefused{base()} }
	}
	if u.Scheme == awssnssqs.SNSScheme {
		arn := strings.TrimPrefix(path.Join(u.Host, u.Path), "/")
		return awssnssqs.OpenSNSTopic(ctx, sns.NewFromConfig(cfg), arn, nil), nil
	}
	return awssnssqs.OpenSQSTopic(ctx, sqs.NewFromConfig(cfg), "https://"+path.Join(u.Host, u.Path), nil), nil
}

// noRetryRefused is the SDK's retryer, but for the guard's refusal: a
// refused address is refused again, and retrying it would only spend the
// send's timeout.
type noRetryRefused struct{ aws.Retryer }

func (r noRetryRefused) IsErrorRetryable(err error) bool {
	var blocked *netguard.BlockedError
	return !errors.As(err, &blocked) && r.Retryer.IsErrorRetryable(err)
}
