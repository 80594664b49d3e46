package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ContainerImage builds the Go program in dir (a main package) into a static binary,
// and that into a local FROM scratch image whose entrypoint it is, named
// meridian-test/NAME:HASH (the binary's hash, so an unchanged program is not built
// again). Without a Docker engine the test is skipped, except in CI, where .ci/run
// has checked the engine answers.
func ContainerImage(t testing.TB, dir, name string) string {
	t.Helper()
	if err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI has a Docker engine, but docker info failed: %v", err)
		}
		t.Skipf("no Docker engine answers (%v): container tests need one", err)
	}
	ctx := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctx, "app"), ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	bin, err := os.ReadFile(filepath.Join(ctx, "app"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	tag := "meridian-test/" + name + ":" + hex.EncodeToString(sum[:6])
	if exec.Command("docker", "image", "inspect", tag).Run() == nil {
		return tag
	}
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, ctx).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	return tag
}
