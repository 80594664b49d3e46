package snapshot

import (
	"net/http"

	"meridian/internal/router"
)

func routerRequest(path string) router.Request {
	return router.Request{Scheme: "http", Host: "example.com", Path: path, Header: http.Header{}}
}
