// containerapp is the container image of the container tests: a static server built
// into a FROM scratch image. It answers with its revision, instance (hostname) and an
// environment variable, holds requests for /sleep, fails its readiness probe for the
// first READY_AFTER probes, and logs every request on standard output.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	host, _ := os.Hostname()
	readyAfter, _ := strconv.Atoi(os.Getenv("READY_AFTER"))
	var probes atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("served %s\n", r.URL.Path)
		fmt.Fprintf(w, "revision=%s service=%s configuration=%s port=%s greeting=%s host=%s\n",
			os.Getenv("K_REVISION"), os.Getenv("K_SERVICE"), os.Getenv("K_CONFIGURATION"), os.Getenv("PORT"), os.Getenv("GREETING"), host)
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(min(ms, 10000)) * time.Millisecond)
		fmt.Fprintf(w, "host=%s\n", host)
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if n := probes.Add(1); n <= int64(readyAfter) {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Addr: ":" + os.Getenv("PORT"), Handler: mux}
	go func() {
		<-ctx.Done()
		fmt.Println("SIGTERM received, shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Printf("listening on %s\n", srv.Addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
