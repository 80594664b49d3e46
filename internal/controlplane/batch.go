package controlplane

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
)

// Compute's batch endpoint (/batch/compute/v1), which gcloud uses when a command makes
// several calls at once (deleting several resources, or with
// compute/force_batch_request): a multipart/mixed body whose parts are HTTP requests
// (application/http), answered by a multipart/mixed body of HTTP responses, each part's
// Content-ID naming the request's as "response-" + its id.

// maxBatchCalls is GCP's limit of calls in one batch request.
const maxBatchCalls = 1000

// batchCall is one request of a batch, as its part carried it.
type batchCall struct {
	contentID string
	req       *http.Request
}

// serveBatch runs each call of a batch through api, which must be the API's handler
// without the outer request's authentication (the batch itself was authenticated).
func serveBatch(api http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, &apiError{405, "httpMethodNotAllowed", "Method " + r.Method + " is not allowed on " + r.URL.Path})
			return
		}
		calls, err := parseBatch(r.Header.Get("Content-Type"), r.Body)
		if err != nil {
			writeError(w, err)
			return
		}
		var out bytes.Buffer
		mw := multipart.NewWriter(&out)
		for _, c := range calls {
			c.req = c.req.WithContext(r.Context())
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, c.req)
			if err := writeBatchResponse(mw, c.contentID, rec.Result()); err != nil {
				writeError(w, err)
				return
			}
		}
		mw.Close()
		w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
		w.WriteHeader(http.StatusOK)
		w.Write(out.Bytes())
	}
}

// parseBatch reads a batch body into its calls. Only Compute's paths may be called.
func parseBatch(contentType string, body io.Reader) ([]batchCall, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/mixed" || params["boundary"] == "" {
		return nil, errInvalid("A batch request must be multipart/mixed with a boundary, not %q.", contentType)
	}
	mr := multipart.NewReader(body, params["boundary"])
	var calls []batchCall
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errInvalid("Cannot read the batch request: %v", err)
		}
		if len(calls) == maxBatchCalls {
			return nil, errInvalid("A batch request holds at most %d calls.", maxBatchCalls)
		}
		req, err := readBatchRequest(part)
		if err != nil {
			return nil, errInvalid("Cannot read call %d of the batch request: %v", len(calls)+1, err)
		}
		calls = append(calls, batchCall{contentID: part.Header.Get("Content-ID"), req: req})
	}
	return calls, nil
}

// readBatchRequest reads one application/http part: a request line, headers, and the
// rest of the part as the body (parts carry no Content-Length).
func readBatchRequest(part io.Reader) (*http.Request, error) {
	tp := textproto.NewReader(bufio.NewReader(part))
	line, err := tp.ReadLine()
	if err != nil {
		return nil, err
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !strings.HasPrefix(proto, "HTTP/") || !strings.HasPrefix(target, "/compute/v1/") {
		return nil, fmt.Errorf("%q is not a request line for Compute's API", line)
	}
	header, err := tp.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, err
	}
	body, err := io.ReadAll(tp.R)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = http.Header(header)
	req.Host = header.Get("Host")
	req.RequestURI = target
	return req, nil
}

// writeBatchResponse writes one response part, named after its request's Content-ID.
func writeBatchResponse(mw *multipart.Writer, contentID string, resp *http.Response) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "application/http")
	if id := strings.TrimSuffix(strings.TrimPrefix(contentID, "<"), ">"); id != "" {
		h.Set("Content-ID", "<response-"+id+">")
	}
	pw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	_, err = pw.Write(b.Bytes())
	return err
}
