// Command hosts runs Meridian across hosts of their own on this machine (network
// namespaces, as root): a three-member etcd cluster over TLS, two APIs, edges in three
// places and region runtimes in two regions, and measures what a global deployment
// depends on.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"meridian/bench/internal/hosts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hosts:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "meridian-hosts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "meridian")
	if out, err := exec.Command("go", "build", "-o", bin, "meridian/cmd/meridian").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	d, err := hosts.Deploy(ctx, "mrdb", bin, dir, hosts.DefaultLayout, nil)
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Printf("deployment up in %s: %d control-plane hosts, %d APIs, edges in %v, regions %v\n",
		time.Since(start).Round(time.Millisecond), len(d.CP), len(d.APIs), hosts.DefaultLayout.Edges, hosts.DefaultLayout.Regions)
	if _, err := d.CLI(ctx, hosts.SeedScript); err != nil {
		return err
	}
	fmt.Println("the seed's system deployed through the API on", d.CP[0].Name)
	return nil
}
