package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"meridian/internal/cdn/signed"
)

// signURLCommand is `compute sign-url`: a signed URL for Cloud CDN, made on this
// machine from the key file, as gcloud makes it; --validate requests it and reports the
// status code.
func (a *app) signURLCommand() *cobra.Command {
	var keyName, keyFile *optional[string]
	var expiresIn *optional[int64]
	var validate bool
	cmd := a.localCommand("sign-url URL", "Sign a URL for use with Cloud CDN signed URLs.", exactArgs("URL"), func(s *session, args []string) error {
		if !keyName.set || !keyFile.set || !expiresIn.set {
			return errors.New("argument --expires-in, --key-file, --key-name: Must be specified.")
		}
		raw := args[0]
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("The URL scheme must be either HTTP or HTTPS: [%s]", raw)
		}
		if u.Fragment != "" || strings.Contains(raw, "#") {
			return fmt.Errorf("The URL must not have a fragment: [%s]", raw)
		}
		for name := range u.Query() {
			switch name {
			case "Expires", "KeyName", "Signature":
				return fmt.Errorf("The URL must not contain the query parameters Expires, KeyName or Signature: [%s]", raw)
			}
		}
		data, err := os.ReadFile(keyFile.value)
		if err != nil {
			return errors.New("Unable to read the key file [" + keyFile.value + "]: " + err.Error())
		}
		key, err := signed.DecodeKey(string(data))
		if err != nil {
			return fmt.Errorf("The key file [%s] is not valid: %v", keyFile.value, err)
		}
		signedURL := signed.SignURL(raw, keyName.value, key, time.Now().Add(time.Duration(expiresIn.value)*time.Second))
		out := map[string]any{"signedUrl": signedURL}
		if validate {
			req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, signedURL, nil)
			if err != nil {
				return err
			}
			client := a.env.HTTPClient
			if client == nil {
				client = http.DefaultClient
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("Validating the signed URL failed: %v", err)
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			out["validationResponseCode"] = resp.StatusCode
		}
		return s.show("yaml", []any{out}, true)
	})
	f := cmd.Flags()
	keyName = addString(f, "key-name", "Name of the signed URL key (as added to the backend service).")
	keyFile = addString(f, "key-file", "File holding the 128-bit key, encoded in base64url (RFC 4648 section 5).")
	expiresIn = addDuration(f, "expires-in", "How long the signed URL stays valid, e.g. 30m, 1h, 1d.")
	f.BoolVar(&validate, "validate", false, "Request the signed URL and print the response's status code.")
	return cmd
}
