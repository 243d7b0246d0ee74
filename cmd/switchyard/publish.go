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
		url, typ, data, id, source, subject, contentType string
		tenant                                           string
		count                                            int
	)
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish test events to JetStream",
		Example: `  switchyard publish --type order.completed --data '{"id":1}'
  switchyard publish --type order.completed --data @order.json --count 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if typ == "" {
				return fmt.Errorf("--type is required (the event type, e.g. order.completed)")
			}
			if tenant != "" {
				if err := subj.ValidTenant(tenant); err != nil {
					return fmt.Errorf("--tenant %w", err)
				}
			}
			body := []byte(data)
			if file, ok := strings.CutPrefix(data, "@"); ok {
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				body = b
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
	f.StringVar(&url, "url", "nats://"+config.DefaultListen, "NATS URL")
	f.StringVarP(&typ, "type", "t", "", "event type; the subject is events.<type>")
	f.StringVar(&tenant, "tenant", "", "publish for this tenant: the subject is tenants.<tenant>.<type>")
	f.StringVarP(&data, "data", "d", "{}", "event data, or @file to read it from a file")
	f.StringVar(&id, "id", "", "event id (Nats-Msg-Id); default a fresh one per event; with --count, suffixed -1, -2, …")
	f.StringVar(&source, "source", "switchyard-cli", "event source (ce-source)")
	f.StringVar(&subject, "subject", "", "event subject (ce-subject)")
	f.StringVar(&contentType, "content-type", "application/json", "content type of the data")
	f.IntVarP(&count, "count", "n", 1, "how many events to publish")
	return cmd
}
