package main

import (
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestShellJoin: the command line runs show prints gives the recorded
// arguments back when a real shell reads it.
func TestShellJoin(t *testing.T) {
	argv := []string{"kiln", "data", "delete", "--dataset", "people", "--where", `name == "ann" && r["zip code"] != 'x'`, "", "a b", "$HOME", "--lr=0.04", "ünï"}
	line := shellJoin(argv)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skipf("no POSIX shell: %v", err)
	}
	got, err := exec.Command("sh", "-c", `eval "set -- $1"; for a in "$@"; do printf '%s\0' "$a"; done`, "sh", line).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(argv, "\x00") + "\x00"; string(got) != want {
		t.Fatalf("%s\nreads back as %q\nwant %q", line, got, want)
	}
	if shellJoin([]string{"kiln", "train", "--lr=0.04", "--data-dir=/tmp/x"}) != "kiln train --lr=0.04 --data-dir=/tmp/x" {
		t.Fatal("plain arguments are quoted")
	}
}

// TestShortenRunes: shortening never splits a UTF-8 sequence.
func TestShortenRunes(t *testing.T) {
	s := shorten(strings.Repeat("é", 80), 60)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) != 60 || !strings.HasSuffix(s, "…") {
		t.Fatalf("shorten: %q", s)
	}
	if shorten("short", 60) != "short" {
		t.Fatal("a short string changed")
	}
}
