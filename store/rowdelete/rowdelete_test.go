package rowdelete

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs"
	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
)

const people = "name,age,zip code,member\r\n" +
	"ann,30,\"10 115\",true\r\n" +
	"bob,41,20095,false\r\n" +
	"\"carol, jr\",52,\"multi\nline\",true\r\n" +
	"dan,,80331,\r\n"

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDelete(t *testing.T) {
	for _, c := range []struct {
		where   string
		removed int64
		want    string
	}{
		{`name == "bob"`, 1, "name,age,zip code,member\r\nann,30,\"10 115\",true\r\n\"carol, jr\",52,\"multi\nline\",true\r\ndan,,80331,\r\n"},
		{`age != null && age > 40`, 2, "name,age,zip code,member\r\nann,30,\"10 115\",true\r\ndan,,80331,\r\n"},
		{`r["zip code"] == "10 115" || member == false`, 2, "name,age,zip code,member\r\n\"carol, jr\",52,\"multi\nline\",true\r\ndan,,80331,\r\n"},
		{`age == null`, 1, "name,age,zip code,member\r\nann,30,\"10 115\",true\r\nbob,41,20095,false\r\n\"carol, jr\",52,\"multi\nline\",true\r\n"},
		{`name.startsWith("carol")`, 1, "name,age,zip code,member\r\nann,30,\"10 115\",true\r\nbob,41,20095,false\r\ndan,,80331,\r\n"},
	} {
		p := write(t, people)
		res, err := Delete(vfs.OS, p, c.where)
		if err != nil {
			t.Fatalf("%s: %v", c.where, err)
		}
		b, _ := os.ReadFile(p)
		if res.Removed != c.removed || res.Rows != 4 || res.Kept != 4-c.removed || !res.Rewritten || string(b) != c.want {
			t.Fatalf("%s: %+v\n%q\nwant %q", c.where, res, b, c.want)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Fatalf("mode became %v", fi.Mode())
		}
		if strings.Join(res.Kinds, ",") != "string,int,string,bool" {
			t.Fatalf("kinds %v", res.Kinds)
		}
	}
}

func TestNoMatchLeavesFile(t *testing.T) {
	p := write(t, people)
	before, _ := os.Stat(p)
	res, err := Delete(vfs.OS, p, `name == "zoe"`)
	if err != nil || res.Removed != 0 || res.Rewritten {
		t.Fatalf("%+v, %v", res, err)
	}
	after, _ := os.Stat(p)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("the file was rewritten although nothing matched")
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct{ body, where, msg string }{
		{people, `age +`, "Syntax error"},
		{people, `age + 1`, "want bool"},
		{people, `nosuch == 1`, "undeclared reference"},
		{people, ``, "empty expression"},
		{people, `r["zip code"] > 3`, "people.csv:2: where"}, // string > int at the first data row
		{people, `age > 40`, `people.csv:6: where: no such overload: _>_ (column "age" is empty here`},
		{"a,b\n1,2\n3\n", `a == 1`, "wrong number of fields"},
		{"a,a\n1,2\n", `true`, "appears twice"},
		{"", `true`, "people.csv: empty file: want a header line"},
	} {
		p := write(t, c.body)
		_, err := Delete(vfs.OS, p, c.where)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q where %q: error %v, want one containing %q", c.body, c.where, err, c.msg)
		}
		if b, _ := os.ReadFile(p); string(b) != c.body {
			t.Errorf("%q: the file changed on error", c.where)
		}
	}
}

// TestDeleteFailingHalfWay fails every filesystem operation of the
// rewrite in turn: the file keeps its old content or gets the new one
// whole, and no temporary file is left.
func TestDeleteFailingHalfWay(t *testing.T) {
	body := people + strings.Repeat("eve,33,12345,true\r\n", 5000)
	want := strings.Replace(body, "bob,41,20095,false\r\n", "", 1)
	for failAt := 0; ; failAt++ {
		p := write(t, body)
		efs := errorfs.New(failAt)
		_, err := Delete(efs, p, `name == "bob"`)
		b, _ := os.ReadFile(p)
		ents, _ := os.ReadDir(filepath.Dir(p))
		if len(ents) != 1 {
			t.Fatalf("failAt %d: %d files in the folder, temporaries left", failAt, len(ents))
		}
		if err == nil {
			if string(b) != want {
				t.Fatal("successful delete wrote the wrong content")
			}
			break
		}
		if !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("failAt %d: %v", failAt, err)
		}
		if string(b) != body && string(b) != want {
			t.Fatalf("failAt %d (%v): torn file of %d bytes", failAt, efs.Log, len(b))
		}
		if failAt > 50 {
			t.Fatal("never succeeded")
		}
	}
}

func FuzzFilter(f *testing.F) {
	f.Add([]byte(people), "age > 40")
	f.Add([]byte("a\n1\n2\n"), "a == 1")
	f.Add([]byte("x,y\n\"q\"\"uoted\",2\n"), `x.contains("q")`)
	f.Fuzz(func(t *testing.T, body []byte, where string) {
		header, kinds, err := InferKinds(bytes.NewReader(body), "fuzz")
		if err != nil {
			return
		}
		p, err := Compile(header, kinds, where)
		if err != nil {
			return
		}
		var out bytes.Buffer
		res, err := Filter(bytes.NewReader(body), bytes.NewReader(body), &out, p, "fuzz")
		if err != nil {
			return
		}
		if res.Kept+res.Removed != res.Rows || out.Len() > len(body) {
			t.Fatalf("%+v, %d bytes out of %d", res, out.Len(), len(body))
		}
		if res.Removed == 0 && !bytes.Equal(out.Bytes(), body) {
			t.Fatalf("nothing removed but the output differs:\n%q\n%q", out.Bytes(), body)
		}
		// The output holds the kept rows: filtering it again with the
		// same predicate removes nothing.
		again, err := Filter(bytes.NewReader(out.Bytes()), bytes.NewReader(out.Bytes()), &bytes.Buffer{}, p, "again")
		if err == nil && (again.Removed != 0 || again.Rows != res.Kept) {
			t.Fatalf("second pass %+v after %+v", again, res)
		}
	})
}

// TestSpacesAfterSeparator: in a CSV written "a, b" (UCI Adult), the
// columns and values are what the data package reads (no leading space),
// so workclass == "State-gov" matches; the kept rows keep their spaces.
func TestSpacesAfterSeparator(t *testing.T) {
	body := "age, workclass, hours-per-week\n39, State-gov, 40\n50, Self-emp-not-inc, 13\n38, Private, 40\n"
	p := write(t, body)
	res, err := Delete(vfs.OS, p, `workclass == "State-gov" || r["hours-per-week"] < 20`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if want := "age, workclass, hours-per-week\n38, Private, 40\n"; res.Removed != 2 || string(b) != want {
		t.Fatalf("%+v\n%q\nwant %q", res, b, want)
	}
	if strings.Join(res.Kinds, ",") != "int,string,int" {
		t.Fatalf("kinds %v", res.Kinds)
	}
}

// TestDeleteWithBefore: the hook sees the counts before the file is
// written, is not called when nothing matches, and its error leaves the
// file untouched.
func TestDeleteWithBefore(t *testing.T) {
	p := write(t, people)
	stop := errors.New("recording failed")
	var seen Result
	_, err := DeleteWith(vfs.OS, p, `name == "bob"`, func(r Result) error {
		seen = r
		if b, _ := os.ReadFile(p); string(b) != people {
			t.Error("the file changed before the hook ran")
		}
		return stop
	})
	if !errors.Is(err, stop) || seen.Removed != 1 || seen.Rows != 4 {
		t.Fatalf("err %v, hook saw %+v", err, seen)
	}
	if b, _ := os.ReadFile(p); string(b) != people {
		t.Fatal("a refused deletion changed the file")
	}
	called := false
	if _, err := DeleteWith(vfs.OS, p, `name == "nobody"`, func(Result) error { called = true; return nil }); err != nil || called {
		t.Fatalf("no match: err %v, hook called %v", err, called)
	}
}

// slowRename is a filesystem whose Rename says it is about to rename,
// then waits: the moment in which another deletion could slip in.
type slowRename struct {
	vfs.FS
	renaming chan struct{}
}

func (f slowRename) Rename(oldpath, newpath string) error {
	close(f.renaming)
	time.Sleep(200 * time.Millisecond)
	return f.FS.Rename(oldpath, newpath)
}

// TestConcurrentDeletionsLocked: a deletion that starts while another
// one from the same file is about to rename its result waits for it
// (Lock), so that both deletions hold; unlocked, the second would read
// the old content and one rename would bring back the rows the other
// removed.
func TestConcurrentDeletionsLocked(t *testing.T) {
	p := write(t, people)
	slow := slowRename{FS: vfs.OS, renaming: make(chan struct{})}
	errs := make(chan error, 2)
	go func() {
		unlock, err := Lock(p)
		if err != nil {
			errs <- err
			return
		}
		defer unlock()
		_, err = Delete(slow, p, `name == "bob"`)
		errs <- err
	}()
	go func() {
		<-slow.renaming
		unlock, err := Lock(p)
		if err != nil {
			errs <- err
			return
		}
		defer unlock()
		_, err = Delete(vfs.OS, p, `name == "ann"`)
		errs <- err
	}()
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "name,age,zip code,member\r\n\"carol, jr\",52,\"multi\nline\",true\r\ndan,,80331,\r\n" {
		t.Fatalf("after two concurrent deletions: %q", b)
	}
}
