package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// httpPublish is `switchyard publish` aimed at the ingest API.
type httpPublish struct {
	url, token, typ, tenant, id, source, subject, contentType string
	count                                                     int
	data                                                      []byte
}

// envIngestToken is the --token flag's value, else SWITCHYARD_INGEST_TOKEN.
func envIngestToken(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("SWITCHYARD_INGEST_TOKEN")
}

// publishHTTP posts the events as arrays of up to config.MaxIngestBatch;
// the gateway answers 202 once JetStream has stored each batch.
func publishHTTP(cmd *cobra.Command, p httpPublish) error {
	if p.token == "" {
		return fmt.Errorf("--token (or $SWITCHYARD_INGEST_TOKEN) is required for the ingest API")
	}
	proto := ingest.Event{Type: p.typ, Tenant: p.tenant, Source: p.source, Subject: p.subject, ContentType: p.contentType}
	if json.Valid(p.data) {
		proto.Data = p.data
	} else {
		proto.DataBase64 = base64.StdEncoding.EncodeToString(p.data)
	}
	client := &http.Client{Timeout: time.Minute}
	published := 0
	for published < p.count {
		n := min(p.count-published, config.MaxIngestBatch)
		batch := make([]ingest.Event, n)
		for i := range batch {
			batch[i] = proto
			batch[i].Time = time.Now().UTC().Format(time.RFC3339Nano)
			switch {
			case p.id != "" && p.count > 1:
				batch[i].ID = fmt.Sprintf("%s-%d", p.id, published+i+1)
			case p.id != "":
				batch[i].ID = p.id
			}
		}
		body, err := json.Marshal(batch)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, p.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("post %s: %w (is ingest.listen set on the gateway?)", p.url, err)
		}
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			var prob ingest.Problem
			if json.Unmarshal(out, &prob) == nil && prob.Error != "" {
				if ra := resp.Header.Get("Retry-After"); ra != "" {
					return fmt.Errorf("%s: %s (retry after %ss)", resp.Status, prob.Error, ra)
				}
				return fmt.Errorf("%s: %s", resp.Status, prob.Error)
			}
			return fmt.Errorf("%s: %s", resp.Status, out)
		}
		var acc ingest.Accepted
		if err := json.Unmarshal(out, &acc); err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		if p.count <= 10 {
			for _, r := range acc.Results {
				dup := ""
				if r.Duplicate {
					dup = " (duplicate id: JetStream kept the first)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "published %s (%s) through %s%s\n", r.ID, p.typ, p.url, dup)
			}
		}
		published += n
	}
	if p.count > 10 {
		fmt.Fprintf(cmd.OutOrStdout(), "published %d events (%s) through %s\n", p.count, p.typ, p.url)
	}
	return nil
}
