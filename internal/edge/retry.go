package edge

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"meridian/api"
)

// retryTransport applies a route's retryPolicy: a request without a body (so it can be
// sent again as it was) is retried up to numRetries times when an attempt fails in a
// way the policy's retryConditions name, each attempt bounded by perTryTimeout.
type retryTransport struct {
	base   http.RoundTripper
	policy *api.HttpRetryPolicy
}

// maxDrain bounds what is read of a response that is discarded for a retry, so the
// connection can be reused without reading a large body.
const maxDrain = 64 << 10

func (t retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	retries := t.policy.NumRetries
	if retries == 0 {
		retries = 1 // GCP's default numRetries
	}
	replayable := req.Body == nil || req.Body == http.NoBody
	for attempt := int64(0); ; attempt++ {
		resp, err := t.try(req)
		if attempt == retries || !replayable || req.Context().Err() != nil || !shouldRetry(t.policy.RetryConditions, resp, err) {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
			resp.Body.Close()
		}
	}
}

// try sends one attempt with the per-try timeout, which lasts until its body is closed.
func (t retryTransport) try(req *http.Request) (*http.Response, error) {
	if t.policy.PerTryTimeout == nil {
		return t.base.RoundTrip(req)
	}
	d := time.Duration(t.policy.PerTryTimeout.Seconds)*time.Second + time.Duration(t.policy.PerTryTimeout.Nanos)
	ctx, cancel := context.WithTimeout(req.Context(), d)
	resp, err := t.base.RoundTrip(req.Clone(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

// shouldRetry reports whether an attempt's outcome matches one of GCP's retry
// conditions (url-map-concepts, retryPolicy.retryConditions).
func shouldRetry(conditions []string, resp *http.Response, err error) bool {
	for _, c := range conditions {
		if matchesCondition(c, resp, err) {
			return true
		}
	}
	return false
}

func matchesCondition(c string, resp *http.Response, err error) bool {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	switch c {
	case "5xx":
		return err != nil || status >= 500
	case "gateway-error":
		return err != nil || status == 502 || status == 503 || status == 504
	case "connect-failure":
		var op *net.OpError
		return errors.As(err, &op) && op.Op == "dial"
	case "retriable-4xx":
		return status == http.StatusConflict
	case "refused-stream":
		return err != nil && strings.Contains(err.Error(), "REFUSED_STREAM")
	}
	// gRPC conditions: the grpc-status of the response.
	grpc := map[string]string{"cancelled": "1", "deadline-exceeded": "4", "resource-exhausted": "8", "internal": "13", "unavailable": "14"}[c]
	return grpc != "" && resp != nil && (resp.Header.Get("Grpc-Status") == grpc || resp.Trailer.Get("Grpc-Status") == grpc)
}
