package agent

import (
	"bytes"
	"io"
	"sync"
)

// DropLines returns a writer that passes whole lines to w, except those containing any of drop.
// keepalived's output goes through it so that the only member's adverts to itself
// (keepalived.SelfAdvertWarning, once per advert) do not flood the agent's log.
func DropLines(w io.Writer, drop ...string) io.Writer {
	return &lineFilter{w: w, drop: drop}
}

type lineFilter struct {
	mu   sync.Mutex
	w    io.Writer
	drop []string
	buf  []byte
}

func (f *lineFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, p...)
	for {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			break
		}
		line := f.buf[:i+1]
		if !f.dropped(line) {
			if _, err := f.w.Write(line); err != nil {
				f.buf = f.buf[i+1:]
				return len(p), err
			}
		}
		f.buf = f.buf[i+1:]
	}
	// A line longer than 64 KiB without a newline is passed on as it is.
	if len(f.buf) > 64<<10 {
		_, err := f.w.Write(f.buf)
		f.buf = nil
		return len(p), err
	}
	return len(p), nil
}

func (f *lineFilter) dropped(line []byte) bool {
	for _, d := range f.drop {
		if bytes.Contains(line, []byte(d)) {
			return true
		}
	}
	return false
}
