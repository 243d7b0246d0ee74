package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	subj "github.com/switchyard-dev/switchyard/pkg/subject"
)

func publishCmd() *cobra.Command {
	var (
		url, typ, data, id, source, subject, contentType, tenant, token string
		count                                                           int
	)
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish test events to JetStream, or through the ingest API",
		Long: `Publish events to JetStream over NATS, or, when --url is an http(s) URL, through
a gateway's ingest API (POST /v1/events with a bearer token), which answers only
once JetStream has stored every event.`,
		Example: `  switchyard publish --type order.completed --data '{"id":1}'
  switchyard publish --type order.completed --data @order.json --count 100
  switchyard publish --url http://127.0.0.1:8090/v1/events --token "$TOKEN" --type order.completed --tenant acme`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if typ == "" {
				return fmt.Errorf("--type is required (the event type, e.g. order.completed)")
			}
			body := []byte(data)
			if file, ok := strings.CutPrefix(data, "@"); ok {
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				body = b
			}
			if strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://") {
				return publishHTTP(cmd, httpPublish{url: url, token: envIngestToken(token), typ: typ, tenant: tenant, id: id,
					source: source, subject: subject, contentType: contentType, count: count, data: body})
			}
			if token != "" {
				return fmt.Errorf("--token is for the ingest API: give an http(s) --url")
			}
			if tenant != "" {
				if err := subj.ValidTenant(tenant); err != nil {
					return fmt.Errorf("--tenant: %w", err)
				}
			}
			nc, err := nats.Connect(url, nats.Name("switchyard-publish"), nats.Timeout(5*time.Second))
			if err != nil {
				return fmt.Errorf("connect %s: %w (is `switchyard run` up?)", url, err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			for i := 0; i < count; i++ {
				e := event.Event{ID: id, Source: source, Subject: subject, ContentType: contentType, Time: time.Now()}
				switch {
				case e.ID == "":
					e.ID = "evt_" + nuid.Next()
				case count > 1:
					e.ID = fmt.Sprintf("%s-%d", id, i+1)
				}
				m := &nats.Msg{Subject: subj.TenantEvent(tenant, typ), Header: nats.Header(e.PublishHeaders()), Data: body}
				ack, err := js.PublishMsg(ctx, m)
				if err != nil {
					return fmt.Errorf("publish %s: %w", m.Subject, err)
				}
				if count <= 10 {
					dup := ""
					if ack.Duplicate {
						dup = " (duplicate id: JetStream kept the first)"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "published %s to %s: stream %s seq %d%s\n", e.ID, m.Subject, ack.Stream, ack.Sequence, dup)
				}
			}
			if count > 10 {
				fmt.Fprintf(cmd.OutOrStdout(), "published %d events to %s\n", count, subj.TenantEvent(tenant, typ))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "nats://"+config.DefaultListen, "NATS URL, or the ingest API's http(s)://…/v1/events")
	f.StringVar(&token, "token", "", "ingest API bearer token (default $SWITCHYARD_INGEST_TOKEN)")
	f.StringVar(&tenant, "tenant", "", "publish for this tenant: tenants.<tenant>.<type>")
	f.StringVarP(&typ, "type", "t", "", "event type; the subject is events.<type>")
	f.StringVarP(&data, "data", "d", "{}", "event data, or @file to read it from a file")
	f.StringVar(&id, "id", "", "event id (Nats-Msg-Id); default a fresh one per event; with --count, suffixed -1, -2, …")
	f.StringVar(&source, "source", "switchyard-cli", "event source (ce-source)")
	f.StringVar(&subject, "subject", "", "event subject (ce-subject)")
	f.StringVar(&contentType, "content-type", "application/json", "content type of the data")
	f.IntVarP(&count, "count", "n", 1, "how many events to publish")
	return cmd
}
