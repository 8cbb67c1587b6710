// Package storetest is the test suite every store backend must pass
// (gonum's testblas shape: Suite takes a way to open a fresh store), a
// real PostgreSQL server started in a temporary folder for the tests, and
// the child-process half of the multi-process tests.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Postgres is a PostgreSQL server run from a temporary folder, listening
// on a loopback port with its Unix socket in the folder.
type Postgres struct {
	Dir  string
	Port int
	// DSN connects to the server's "postgres" database as superuser kiln.
	DSN string

	bin   string
	owner string // the unprivileged user the server runs as when we are root
	dbs   atomic.Int64
}

// ErrNoPostgres is returned by StartPostgres when initdb and pg_ctl are
// not installed.
var ErrNoPostgres = errors.New("PostgreSQL is not installed (initdb, pg_ctl not found in /usr/lib/postgresql/*/bin or PATH)")

// findBin returns the folder holding initdb and pg_ctl, preferring
// PostgreSQL 15 from Debian.
func findBin() (string, error) {
	cands := []string{"/usr/lib/postgresql/15/bin"}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(m) > 0 {
		cands = append(cands, m...)
	}
	for _, d := range cands {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
				return d, nil
			}
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoPostgres
}

// StartPostgres initialises a cluster in a new temporary folder and starts
// it. initdb refuses to run as root, so as root the folder is handed to
// the "postgres" user (or "nobody") and the server runs as that user.
// Stop the server with Stop.
func StartPostgres() (*Postgres, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kiln-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		for _, name := range []string{"postgres", "nobody"} {
			u, err := user.Lookup(name)
			if err != nil {
				continue
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(dir, uid, gid); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			p.owner = name
			break
		}
		if p.owner == "" {
			os.RemoveAll(dir)
			return nil, errors.New("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := p.cmd("initdb", "-D", data, "-U", "kiln", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	for attempt := 0; ; attempt++ {
		p.Port, err = freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", p.Port, dir)
		out, err := p.cmd("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			break
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, log)
		}
	}
	p.DSN = fmt.Sprintf("postgres://kiln@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
	return p, nil
}

func (p *Postgres) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if p.owner == "" {
		return exec.Command(path, args...)
	}
	return exec.Command("runuser", append([]string{"-u", p.owner, "--", path}, args...)...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// NewDatabase creates an empty database and returns its DSN.
func (p *Postgres) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("kiln_test_%d", p.dbs.Add(1))
	db, err := sql.Open("pgx", p.DSN)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return strings.Replace(p.DSN, "/postgres?", "/"+name+"?", 1), nil
}

// Stop stops the server and removes its folder.
func (p *Postgres) Stop() error {
	out, err := p.cmd("pg_ctl", "-D", filepath.Join(p.Dir, "data"), "-m", "fast", "-w", "stop").CombinedOutput()
	os.RemoveAll(p.Dir)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}
