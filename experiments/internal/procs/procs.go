// Package procs starts the experiment binaries' server roles (party 0,
// party 1, the dealer service) as separate processes: the running binary
// re-executed with a role variable, whose JSON log's "serving" line gives
// the address it listens on.
package procs

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
	"github.com/hssee/hssee/model/loader"
	"github.com/hssee/hssee/party"
	"github.com/hssee/hssee/party/dealersvc"
)

// Serve makes this process the server that the role variable env names, if
// it names one: cmd/party0, cmd/party1 or cmd/dealer (it exits with the
// server's exit code). Call it first in main (and TestMain).
func Serve(env string) {
	switch os.Getenv(env) {
	case "party0":
		os.Exit(party.Main(0, os.Args[1:], os.Stderr))
	case "party1":
		os.Exit(party.Main(1, os.Args[1:], os.Stderr))
	case "dealer":
		os.Exit(dealersvc.Main(os.Args[1:], os.Stderr))
	}
}

// EEModel transforms m under a fresh EE key and saves it as a Hugging Face
// directory at dir, for server processes to load; it returns the model as
// loaded back from dir (the parties' exact weights, so fingerprints agree)
// and the key.
func EEModel(m *model.Model, dir string) (*model.Model, *ee.Key, error) {
	key, err := ee.GenerateKey(rand.Reader, ee.DefaultMode)
	if err != nil {
		return nil, nil, err
	}
	em, err := ee.Transform(m, key)
	if err != nil {
		return nil, nil, err
	}
	if err := hf.Save(dir, em); err != nil {
		return nil, nil, err
	}
	em, err = loader.Load(dir)
	return em, key, err
}

// Proc is a running server process.
type Proc struct {
	Role string
	Addr string // from its "serving" log line

	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
}

// Log returns the first 64 KiB of the process's standard error.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Start runs this binary again with env=role and args, and waits (at most a
// minute) for it to log that it serves.
func Start(env, role string, args ...string) (*Proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &Proc{Role: role, cmd: exec.Command(exe, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env+"="+role)
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			if p.stderr.Len() < 1<<16 {
				p.stderr.WriteString(sc.Text() + "\n")
			}
			p.mu.Unlock()
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving" {
				select {
				case addr <- l.Addr:
				default:
				}
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	select {
	case p.Addr = <-addr:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited: %s", role, p.Log())
	case <-time.After(60 * time.Second):
		p.Stop()
		return nil, fmt.Errorf("%s did not start: %s", role, p.Log())
	}
}

// Stop ends the process gracefully (SIGINT), killing it after 15 s.
func (p *Proc) Stop() {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// CPU is the CPU time (user and system) the process has used so far; zero
// where /proc is not available.
func (p *Proc) CPU() time.Duration { return cpuOf(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)) }

// SelfCPU is the CPU time this process has used so far.
func SelfCPU() time.Duration { return cpuOf("/proc/self/stat") }

// cpuOf reads utime + stime from a /proc stat file (clock ticks of 1/100 s,
// the Linux USER_HZ).
func cpuOf(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces: fields after ')' count from 3.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
