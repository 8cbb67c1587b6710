package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelsBadStage: an unknown stage is a usage error (exit 2) for
// promote and for register --stage, and register checks it before it
// records anything, so that a failed command leaves no new version.
func TestModelsBadStage(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	t.Setenv("KILN_STORE", "")
	dir := filepath.Join(home, "m")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "weights"), []byte("w"), 0o644)
	if code, _, stderr := kiln(t, "models", "register", "m", dir, "--stage", "prod"); code != exitUsage || !strings.Contains(stderr, `"prod"`) || !strings.Contains(stderr, "production") {
		t.Fatalf("register --stage prod: exit %d %q", code, stderr)
	}
	if code, stdout, _ := kiln(t, "models", "ls", "--json"); code != exitOK || strings.TrimSpace(stdout) != "[]" {
		t.Fatalf("a refused register left a model behind: %s", stdout)
	}
	if code, _, stderr := kiln(t, "models", "register", "m", dir, "--stage", "staging"); code != exitOK {
		t.Fatalf("register --stage staging: exit %d %s", code, stderr)
	}
	if code, _, stderr := kiln(t, "models", "promote", "m@1", "prod"); code != exitUsage || !strings.Contains(stderr, `"prod"`) {
		t.Fatalf("promote m@1 prod: exit %d %q", code, stderr)
	}
	if code, _, stderr := kiln(t, "models", "promote", "m@2", "production"); code != exitFailure || !strings.Contains(stderr, "m@2") {
		t.Fatalf("promote m@2 (absent): exit %d %q", code, stderr)
	}
}
