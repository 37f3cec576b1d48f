package firewall

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// listFiles holds every network list file in use, keyed by path and
// re-read interval, across config loads: a file stays loaded, and watched,
// while some config uses it.
var listFiles = caddy.NewUsagePool()

// listFile is a network list file, re-read when its size or modification
// time changes. A re-read that fails keeps the previous set in force.
type listFile struct {
	path string
	set  atomic.Pointer[netSet]

	mu       sync.Mutex
	stamp    fileStamp // of the version last read
	pending  fileStamp // of a change seen once, read when seen again
	loadedAt time.Time
	lastErr  string
	// logger is Caddy's default logger, not a config's: the watcher
	// outlives configs, and a refused config must not change it.
	logger *zap.Logger

	stop chan struct{}
	done chan struct{}
}

// fileStamp is what tells that a file changed.
type fileStamp struct {
	size    int64
	modTime time.Time
}

// listFileStatus is a list file as the admin route shows it.
type listFileStatus struct {
	Path      string    `json:"path"`
	Networks  int       `json:"networks"`
	LoadedAt  time.Time `json:"loaded_at"`
	LastError string    `json:"last_error,omitempty"`
}

func listFileKey(path string, interval time.Duration) string {
	return fmt.Sprintf("%s\x00%d", path, interval)
}

// acquireListFile loads path now, or takes the running watcher of it;
// release it with listFiles.Delete(key).
func acquireListFile(path string, interval time.Duration) (*listFile, string, error) {
	key := listFileKey(path, interval)
	v, _, err := listFiles.LoadOrNew(key, func() (caddy.Destructor, error) {
		f := &listFile{path: path, stop: make(chan struct{}), done: make(chan struct{}),
			logger: caddy.Log().Named("http.handlers.access_rules")}
		if err := f.reload(); err != nil {
			return nil, err
		}
		go f.watch(interval)
		return f, nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(*listFile), key, nil
}

// reload reads the file if it changed since the last read and has
// stayed the same for one interval since, so that a file being written
// in place is not read half-way (replacing it with a rename is better
// still). The first read is at once.
func (f *listFile) reload() error {
	info, err := os.Stat(f.path)
	if err != nil {
		return f.failed(fmt.Errorf("network file: %v", err))
	}
	stamp := fileStamp{size: info.Size(), modTime: info.ModTime()}
	f.mu.Lock()
	loaded := f.set.Load() != nil
	wait := loaded && (stamp == f.stamp || stamp != f.pending)
	f.pending = stamp
	f.mu.Unlock()
	if wait {
		return nil
	}
	f.mu.Lock()
	f.stamp = stamp // a broken version is read once, not every interval
	f.mu.Unlock()
	file, err := os.Open(f.path)
	if err != nil {
		return f.failed(fmt.Errorf("network file: %v", err))
	}
	defer file.Close()
	set, err := readNetSet(f.path, file)
	if err != nil {
		return f.failed(fmt.Errorf("network file %v", err))
	}
	old := f.set.Swap(set)
	f.mu.Lock()
	f.loadedAt, f.lastErr = time.Now(), ""
	f.mu.Unlock()
	if old != nil {
		f.logger.Info("network file re-read", zap.String("path", f.path), zap.Int("networks", set.size))
	}
	return nil
}

func (f *listFile) failed(err error) error {
	f.mu.Lock()
	repeated := f.lastErr == err.Error()
	f.lastErr = err.Error()
	f.mu.Unlock()
	if f.set.Load() != nil && !repeated {
		listFileErrors.WithLabelValues(f.path).Inc()
		f.logger.Error("network file not re-read; the previous list stays in force", zap.Error(err))
	}
	return err
}

// watch re-reads the file every interval until Destruct.
func (f *listFile) watch(interval time.Duration) {
	defer close(f.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			_ = f.reload()
		}
	}
}

func (f *listFile) status() listFileStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listFileStatus{Path: f.path, Networks: f.set.Load().size, LoadedAt: f.loadedAt, LastError: f.lastErr}
}

// Destruct stops watching the file once no config uses it.
func (f *listFile) Destruct() error {
	close(f.stop)
	<-f.done
	return nil
}

// Interface guard
var _ caddy.Destructor = (*listFile)(nil)
