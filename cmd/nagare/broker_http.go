package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// brokerHTTP reads JSON views from a broker's HTTP endpoint (nagare serve --http):
// /v1/clients and /v1/io for `nagare top`, /v1/share-groups for `group describe --http`.
type brokerHTTP struct {
	base string
	http http.Client
}

func newBrokerHTTP(addr string) *brokerHTTP {
	return &brokerHTTP{base: "http://" + addr, http: http.Client{Timeout: 5 * time.Second}}
}

// get decodes the JSON answer to GET path into v.
func (c *brokerHTTP) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}
