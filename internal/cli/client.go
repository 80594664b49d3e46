package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"meridian/api"
)

// maxResponseBytes bounds what the CLI reads of one API answer.
const maxResponseBytes = 64 << 20

// client is a small REST client of Meridian's API.
type client struct {
	endpoint string // "http://127.0.0.1:9610", without a trailing slash
	token    string // bearer token; empty sends none
	http     *http.Client
}

// apiError is an error answer of the API, in GCP's shape:
// {"error":{"code":409,"message":"…","errors":[{"message","domain","reason"}]}}.
type apiError struct {
	Code    int
	Message string
	Errors  []apiErrorItem
	compute bool // from a Compute path: gcloud prints it as "Could not fetch resource"
}

type apiErrorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

func (e *apiError) Error() string { return e.Message }

// isNotFound reports whether err is the API's 404.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Code == http.StatusNotFound
}

// hasReason reports whether err is an API error with the given GCP reason.
func hasReason(err error, reason string) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	for _, item := range ae.Errors {
		if item.Reason == reason {
			return true
		}
	}
	return false
}

// unreachableError says the API could not be reached at all.
type unreachableError struct {
	endpoint string
	err      error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("Cannot reach Meridian's API at %s: %v.\nIs it running? Start it with `meridian serve`, or point the CLI at it with --api-endpoint or MERIDIAN_API_ENDPOINT.", e.endpoint, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// operationError is an Operation that finished with errors.
type operationError struct {
	op *api.Operation
}

func (e *operationError) Error() string { return strings.Join(e.messages(), "; ") }

func (e *operationError) messages() []string {
	var msgs []string
	for _, item := range e.op.Error.Errors {
		msgs = append(msgs, item.Message)
	}
	return msgs
}

// do sends one request. path is relative to the endpoint ("compute/v1/projects/…",
// with a query if any); body, if not nil, is sent as JSON; the answer is decoded into
// out unless out is nil. Error answers become *apiError.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	data, err := c.send(ctx, method, path, body)
	if err != nil || out == nil {
		return err
	}
	// Numbers stay json.Number in untyped values, so that printing them keeps every
	// digit of an int64.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("the answer of %s %s/%s is not what Meridian's API sends: %w", method, c.endpoint, strings.TrimPrefix(path, "/"), err)
	}
	return nil
}

// send sends one request and returns the body of a successful answer.
func (c *client) send(ctx context.Context, method, path string, body any) ([]byte, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+"/"+strings.TrimPrefix(path, "/"), reader)
	if err != nil {
		return nil, fmt.Errorf("invalid API endpoint %q: %w", c.endpoint, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "meridian-cli")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, req.URL, err)
	}
	if resp.StatusCode >= 300 {
		return nil, decodeAPIError(resp.StatusCode, data, strings.HasPrefix(strings.TrimPrefix(path, "/"), "compute/"))
	}
	return data, nil
}

func (c *client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return &unreachableError{endpoint: c.endpoint, err: opErr.Err}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &unreachableError{endpoint: c.endpoint, err: dnsErr}
	}
	return fmt.Errorf("calling Meridian's API at %s: %w", c.endpoint, err)
}

func decodeAPIError(status int, body []byte, compute bool) error {
	var envelope struct {
		Error struct {
			Code    int            `json:"code"`
			Message string         `json:"message"`
			Errors  []apiErrorItem `json:"errors"`
		} `json:"error"`
	}
	e := &apiError{Code: status, compute: compute}
	if json.Unmarshal(body, &envelope) == nil && envelope.Error.Message != "" {
		e.Message, e.Errors = envelope.Error.Message, envelope.Error.Errors
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Message = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	if text != "" {
		e.Message += ": " + text
	}
	return e
}

// mutate sends a request whose answer is an Operation and waits for the operation
// to finish. An operation that failed is an *operationError.
func (c *client) mutate(ctx context.Context, method, path string, body any) (*api.Operation, error) {
	op := &api.Operation{}
	if err := c.do(ctx, method, path, body, op); err != nil {
		return nil, err
	}
	return c.wait(ctx, op)
}

// minWaitRound is the shortest time between two operations.wait calls. The server
// long-polls, so this only guards against one that answers at once while the
// operation is still running.
const minWaitRound = time.Second

// wait polls operations.wait (global or regional, from the operation's selfLink)
// until the operation is DONE.
func (c *client) wait(ctx context.Context, op *api.Operation) (*api.Operation, error) {
	for op.Status != "DONE" {
		if op.SelfLink == "" {
			return nil, fmt.Errorf("the API answered with an unfinished operation %q without a selfLink", op.Name)
		}
		started := time.Now()
		next := &api.Operation{}
		if err := c.do(ctx, http.MethodPost, apiPath(op.SelfLink)+"/wait", nil, next); err != nil {
			return nil, err
		}
		op = next
		if op.Status != "DONE" {
			if err := pause(ctx, minWaitRound-time.Since(started)); err != nil {
				return nil, err
			}
		}
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		return op, &operationError{op}
	}
	return op, nil
}

func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// apiPath turns a link the API returned (a full URL or a relative path) into a path
// for do: "https://host/compute/v1/projects/p/…" becomes "compute/v1/projects/p/…".
func apiPath(link string) string {
	if i := strings.Index(link, "/compute/v1/"); i >= 0 {
		return link[i+1:]
	}
	if strings.HasPrefix(link, "projects/") {
		return "compute/v1/" + link
	}
	return strings.TrimPrefix(link, "/")
}
