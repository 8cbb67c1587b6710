package store

import (
	"context"
	"testing"
	"time"
)

// TestHeartbeatFailureDoesNotFailEnd: heartbeats of a run that logs no
// metrics (kiln eval, data add) fail for a while (a trigger refuses them);
// they are counted, but once the database takes writes again the run ends
// as succeeded and End reports no error.
func TestHeartbeatFailureDoesNotFailEnd(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Home: t.TempDir(), Heartbeat: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{
		"CREATE TABLE hb_block (x INTEGER)",
		"CREATE TRIGGER hb_fail BEFORE UPDATE OF heartbeat_at ON runs WHEN EXISTS (SELECT 1 FROM hb_block) BEGIN SELECT RAISE(ABORT, 'injected heartbeat failure'); END",
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.StartRun(ctx, RunSpec{Kind: "train"})
	if err != nil {
		t.Fatal(err)
	}
	s.db.ExecContext(ctx, "INSERT INTO hb_block VALUES (1)")
	deadline := time.Now().Add(5 * time.Second)
	for r.FlushStats().HeartbeatErrors == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r.FlushStats().HeartbeatErrors == 0 {
		t.Fatal("no heartbeat failed")
	}
	s.db.ExecContext(ctx, "DELETE FROM hb_block")
	if err := r.End(ctx, nil); err != nil {
		t.Fatalf("End after transient heartbeat failures: %v", err)
	}
	info, err := s.GetRun(ctx, r.ID())
	if err != nil || info.Status != Succeeded {
		t.Fatalf("run %+v %v", info, err)
	}
}

// TestRecordedJSONPlain: a configuration holding && and < is stored as
// typed, not HTML-escaped, so that kiln runs show prints it readably.
func TestRecordedJSONPlain(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.StartRun(ctx, RunSpec{Kind: "data.delete", Command: []string{"kiln", "--where", `a < 3 && b == "x"`}, Config: map[string]string{"where": `a < 3 && b == "x"`}})
	if err != nil {
		t.Fatal(err)
	}
	r.End(ctx, nil)
	info, err := s.GetRun(ctx, r.ID())
	if err != nil {
		t.Fatal(err)
	}
	if string(info.Config) != `{"where":"a < 3 && b == \"x\""}` || info.Command[2] != `a < 3 && b == "x"` {
		t.Fatalf("config %s command %q", info.Config, info.Command)
	}
}
