// Package integration runs the CLI's commands in-process against the real control
// plane (an httptest server over an embedded etcd), to check that what the CLI sends
// is what the API accepts. It holds tests only.
package integration
