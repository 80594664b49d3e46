package runtime

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"os"
	"time"
)

// HelloImage is Cloud Run's sample container, which Meridian runs built in.
const HelloImage = "us-docker.pkg.dev/cloudrun/container/hello"

// RegionEnv names the region an instance runs in. Cloud Run's contract has no such
// variable (a container asks the metadata server); Meridian adds it so the samples can
// say which region answered.
const RegionEnv = "MERIDIAN_REGION"

// builtinProgram names the `meridian builtin` program that stands in for a well-known
// image.
func builtinProgram(image string) (string, bool) {
	switch image {
	case HelloImage, HelloImage + ":latest":
		return "hello", true
	}
	return "", false
}

// HelloHandler answers like Cloud Run's hello sample: a page naming the service and
// revision that served it (from K_SERVICE and K_REVISION).
func HelloHandler(getenv func(string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service, revision, region := getenv("K_SERVICE"), getenv("K_REVISION"), getenv(RegionEnv)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html>
<html><head><title>Congratulations | Cloud Run</title></head>
<body>
<h1>It's running!</h1>
<p>Congratulations, your Cloud Run service is running.</p>
<p>Service: <strong>%s</strong></p>
<p>Revision: <strong>%s</strong></p>
<p>Region: <strong>%s</strong></p>
</body></html>
`, html.EscapeString(service), html.EscapeString(revision), html.EscapeString(region))
	})
}

// ServeHello runs the hello sample on $PORT (default 8080), as the container would,
// until ctx is done (the runtime's SIGTERM); then it drains in-flight requests.
func ServeHello(ctx context.Context) error {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: HelloHandler(os.Getenv), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
