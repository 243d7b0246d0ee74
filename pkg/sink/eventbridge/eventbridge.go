// Package eventbridge is the sink driver for Amazon EventBridge: PutEvents
// with at most 10 entries and under 256 KB per call, per-entry failures
// reported by index, and the SDK's own retryer off so that JetStream
// redelivery alone decides when to try again.
package eventbridge

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// PutEvents limits, as AWS documents them.
const (
	MaxEntries      = 10
	MaxRequestBytes = 256 * 1024
)

// API is the part of the EventBridge client the driver calls.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Driver puts events on one bus.
type Driver struct {
	sink.Base
	cfg        Config
	api        API
	detailType *sink.Template
}

// MaxDetailType is the most characters EventBridge takes in a DetailType;
// it refuses the whole PutEvents call over a longer one.
const MaxDetailType = 128

const detailTypeOption = "missingkey=error"

var _ sink.Driver = (*Driver)(nil)

// New builds a driver with credentials from the standard AWS chain
// (environment, shared config, web identity/IRSA, instance role), assuming
// role_arn when set. AWS_ENDPOINT_URL(_EVENTBRIDGE) and endpoint point it at
// an emulator. extra options are added last (static credentials, say).
func New(ctx context.Context, cfg Config, extra ...func(*awsconfig.LoadOptions) error) (*Driver, error) {
	return open(ctx, cfg, nil, extra...)
}

// open is New whose EventBridge client sends with hc when it is not nil
// (netguard's, for an API sink without api.allow: [private_networks]).
// Only the EventBridge client's: the credential providers (the instance
// metadata service among them) keep theirs.
func open(ctx context.Context, cfg Config, hc aws.HTTPClient, extra ...func(*awsconfig.LoadOptions) error) (*Driver, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		// One SDK attempt per Send: retries are JetStream redeliveries, so
		// the schedule and the dead letters' attempt counts stay true.
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("eventbridge: aws config: %w", err)
	}
	if cfg.RoleARN != "" {
		awsCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), cfg.RoleARN))
	}
	client := eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if hc != nil {
			o.HTTPClient = hc
		}
	})
	return NewWithAPI(cfg, client)
}

// NewWithAPI builds a driver around an existing client.
func NewWithAPI(cfg Config, api API) (*Driver, error) {
	d := &Driver{cfg: cfg, api: api, Base: sink.NewBase(cfg.Timeout.D)}
	if cfg.DetailType != "" {
		t, err := sink.ParseTemplate("detail_type", cfg.DetailType, sink.OutputLimit{Chars: MaxDetailType}, detailTypeOption)
		if err != nil {
			return nil, fmt.Errorf("eventbridge: detail_type: %w", err)
		}
		d.detailType = t
	}
	return d, nil
}

// entrySize is the size AWS counts for an entry against the 256 KB limit:
// 14 bytes for Time, then the UTF-8 bytes of Source, DetailType, Detail and
// each Resource.
func entrySize(e types.PutEventsRequestEntry) int {
	n := 0
	if e.Time != nil {
		n += 14
	}
	n += len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

func (d *Driver) entry(e *event.Event) (types.PutEventsRequestEntry, error) {
	detail, err := e.MarshalEnvelope()
	if err != nil {
		return types.PutEventsRequestEntry{}, err
	}
	detailType := e.Type
	if d.detailType != nil {
		// Too long is refused here, per event: the destination would
		// refuse the whole call, and a cut DetailType would match other
		// rules than the one the template meant.
		if detailType, err = d.detailType.Execute(e); err != nil {
			return types.PutEventsRequestEntry{}, fmt.Errorf("detail_type: %w", err)
		}
	}
	en := types.PutEventsRequestEntry{
		EventBusName: aws.String(d.cfg.Bus),
		Source:       aws.String(d.cfg.Source),
		DetailType:   aws.String(detailType),
		Detail:       aws.String(string(detail)),
		Time:         aws.Time(e.Time),
		Resources:    d.cfg.Resources,
	}
	if e.TraceParent != "" {
		en.TraceHeader = aws.String(e.TraceParent)
	}
	if !utf8.ValidString(detailType) {
		return en, errors.New("detail type is not UTF-8")
	}
	return en, nil
}

// Send puts the batch, in as many calls as the limits require. Entries AWS
// refuses are named in a *sink.BatchError; the rest were put.
func (d *Driver) Send(ctx context.Context, batch []*event.Event) error {
	return d.Batch(ctx, len(batch), func(ctx context.Context, be *sink.BatchError) {
		var chunk []types.PutEventsRequestEntry
		var chunkIdx []int
		chunkBytes := 0
		flush := func() {
			if len(chunk) > 0 {
				d.put(ctx, chunk, chunkIdx, be)
			}
			chunk, chunkIdx, chunkBytes = nil, nil, 0
		}
		for i, e := range batch {
			en, err := d.entry(e)
			if err != nil {
				be.Fail(i, sink.PermanentError(0, err))
				continue
			}
			size := entrySize(en)
			if size > MaxRequestBytes {
				be.Fail(i, sink.PermanentError(0, fmt.Errorf("entry is %d bytes; EventBridge takes at most %d per PutEvents", size, MaxRequestBytes)))
				continue
			}
			if len(chunk) == MaxEntries || chunkBytes+size > MaxRequestBytes {
				flush()
			}
			chunk, chunkIdx, chunkBytes = append(chunk, en), append(chunkIdx, i), chunkBytes+size
		}
		flush()
	})
}

// put makes one PutEvents call and records each failed entry by its index
// in the caller's batch.
func (d *Driver) put(ctx context.Context, entries []types.PutEventsRequestEntry, idx []int, be *sink.BatchError) {
	callCtx, cancel := d.Within(ctx) // the timeout is per PutEvents call
	defer cancel()
	out, err := d.api.PutEvents(callCtx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		cerr := d.Failed(ctx, callCtx, err, classifyCall)
		for _, i := range idx {
			be.Fail(i, cerr)
		}
		return
	}
	for j, r := range out.Entries {
		if j < len(idx) && r.ErrorCode != nil {
			be.Fail(idx[j], classifyEntry(aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage)))
		}
	}
	// Results are positional and one per entry. An entry the answer does
	// not cover was not confirmed: retry it rather than take it as put.
	for j := len(out.Entries); j < len(idx); j++ {
		be.Fail(idx[j], sink.RetryableError(0, fmt.Errorf("eventbridge: PutEvents answered %d results for %d entries; entry %d has none", len(out.Entries), len(idx), j)))
	}
}

// permanentEntryCodes are per-entry answers that another attempt cannot
// change. Throttling and internal failures, and any code not listed, are
// retried: a wrong retry ends in the dead-letter stream anyway, a wrong
// dead letter would skip attempts the schedule promised.
var permanentEntryCodes = map[string]bool{
	"MalformedDetail": true, "InvalidArgument": true, "AccessDeniedException": true,
	"NotAuthorizedForSourceException": true, "NotAuthorizedForDetailTypeException": true,
	"ValidationException": true, "ResourceNotFoundException": true, "EntryTooLarge": true,
}

func classifyEntry(code, msg string) error {
	err := fmt.Errorf("eventbridge %s: %s", code, msg)
	if permanentEntryCodes[code] {
		return sink.PermanentError(0, err)
	}
	return sink.RetryableError(0, err)
}

// classifyCall reads a failed PutEvents call, neither canceled nor timed
// out.
func classifyCall(err error) error {
	var blocked *netguard.BlockedError
	if errors.As(err, &blocked) {
		return sink.PermanentError(0, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch {
		case code == "ThrottlingException" || code == "Throttling" || code == "LimitExceededException":
			return sink.RetryableError(0, err)
		case permanentEntryCodes[code] || ae.ErrorFault() == smithy.FaultClient && code != "RequestTimeout":
			return sink.PermanentError(0, err)
		}
	}
	return sink.RetryableError(0, err)
}

// Close cancels sends in flight; later sends fail as canceled.
func (d *Driver) Close(context.Context) error { return d.Lifecycle.Close(nil) }
