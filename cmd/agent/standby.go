package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"hacp.dev/hacp/internal/agent"
	hacpboot "hacp.dev/hacp/internal/bootstrap"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
)

// standbyFiles keeps a node's standby (internal/agent's standby.go) in step with what the
// DaemonSet's agent runs: the last good config's standby variant and the standby static Pod.
type standbyFiles struct {
	configDir, manifestPath string
	manifest                []byte
	log                     klog.Logger
}

func newStandbyFiles(standbyDir, manifestsDir, image, namespace, name string, log klog.Logger) (*standbyFiles, error) {
	manifest, err := hacpboot.StandbyManifest(hacpboot.StandbyOptions{Image: image, Namespace: namespace, Name: name})
	if err != nil {
		return nil, err
	}
	return &standbyFiles{
		configDir:    contract.StandbyConfigDir(standbyDir, namespace, name),
		manifestPath: filepath.Join(manifestsDir, contract.StandbyManifestName(namespace, name)),
		manifest:     manifest,
		log:          log,
	}, nil
}

// applied writes the standby variant of a config keepalived accepted, then the standby static Pod
// if it differs from what is on disk. Failures are logged: keepalived runs regardless.
func (f *standbyFiles) applied(text []byte) {
	variant, err := keepalived.StandbyVariant(text)
	if err == nil {
		err = writeAtomic(filepath.Join(f.configDir, contract.ConfigFile), variant, 0o600)
	}
	if err == nil {
		err = writeAtomic(f.manifestPath, f.manifest, 0o600)
	}
	if err != nil {
		f.log.Error(err, "Keeping this node's standby up to date failed: after a cold boot the VIP may not come back without the API")
	}
}

// remove takes this node's standby away when the node leaves the group: the manifest first, so
// that kubelet stops the standby Pod, then the last good config. A standby left behind would run
// keepalived from that config as soon as the DaemonSet's agent is gone from the node, and the
// group's members, rendered without this node, would drop its advertisements ("not a unicast
// peer"): it would elect itself and hold the VIP beside the group's master.
func (f *standbyFiles) remove() {
	removed := false
	for _, path := range []string{f.manifestPath, filepath.Join(f.configDir, contract.ConfigFile)} {
		err := os.Remove(path)
		switch {
		case err == nil:
			removed = true
		case !os.IsNotExist(err):
			f.log.Error(err, "This node left the group, but its standby could not be removed: remove it by hand (README, Removing hacp)", "path", path)
		}
	}
	_ = os.Remove(f.configDir) // only if empty
	if removed {
		f.log.Info("This node left the group: its standby is removed", "manifest", f.manifestPath, "config", f.configDir)
	}
}

// writeAtomic replaces path with data unless it already holds exactly that: a hidden temporary
// file in the same folder (kubelet ignores dot files), synced, then renamed over path.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// standby is the node-local standby's loop: idle while the DaemonSet's agent answers on its active
// socket; otherwise keepalived from the last good config, until that agent takes the VIPs over.
func standby(args []string) error {
	fs := flag.NewFlagSet("standby", flag.ContinueOnError)
	var (
		config   = fs.String("config", "", "the standby config the DaemonSet's agent keeps (keepalived.StandbyVariant)")
		socket   = fs.String("handover-socket", "", "abstract unix socket the DaemonSet's agent asks on (contract.StandbySocket)")
		active   = fs.String("active-socket", "", "abstract unix socket the DaemonSet's agent listens on while it runs (contract.ActiveSocket)")
		dir      = fs.String("dir", contract.RunDir, "private directory for keepalived's pid files and the notify FIFO")
		fifo     = fs.String("fifo", contract.FIFOPath, "notify FIFO path the config names (vrrp_notify_fifo)")
		binary   = fs.String("keepalived", contract.KeepalivedBinary, "keepalived binary")
		wrap     = fs.String("wrap", "", "space-separated command prefix for keepalived and ip (tests)")
		grace    = fs.Duration("absent-for", 1500*time.Millisecond, "how long the DaemonSet's agent must be absent before the standby runs keepalived")
		pollEach = fs.Duration("poll", 500*time.Millisecond, "how often the DaemonSet's agent is looked for")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	for name, v := range map[string]string{"config": *config, "handover-socket": *socket, "active-socket": *active} {
		if v == "" {
			return fmt.Errorf("--%s is required", name)
		}
	}
	logger := klog.NewKlogr().WithValues("standby", true)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger.Info("Standby: idle while the DaemonSet's agent runs on this node", "activeSocket", "@"+*active, "config", *config)
	for ctx.Err() == nil {
		// Idle while the agent answers.
		var absentSince time.Time
		for ctx.Err() == nil {
			if agent.AgentActive(ctx, *active) {
				absentSince = time.Time{}
			} else if absentSince.IsZero() {
				absentSince = time.Now()
			} else if time.Since(absentSince) >= *grace {
				break
			}
			sleep(ctx, *pollEach)
		}
		if ctx.Err() != nil {
			return nil
		}
		text, err := os.ReadFile(*config)
		if err != nil {
			logger.Info("The DaemonSet's agent is not running on this node, and it left no config here yet", "config", *config, "reason", err.Error())
			sleep(ctx, 5*time.Second)
			continue
		}
		logger.Info("The DaemonSet's agent is not running on this node: running keepalived from the last good config", "config", *config)
		sup := staticSupervisor(*binary, *dir, *fifo, *wrap, logger, "Standby keepalived")
		if err := runStandbyTerm(ctx, sup, text, *socket, logger); err != nil {
			logger.Error(err, "The standby keepalived stopped; looking again")
			sleep(ctx, 2*time.Second)
		}
	}
	return nil
}

// runStandbyTerm runs keepalived with text until the DaemonSet's agent takes the VIPs over on the
// handover socket (then returns nil, keepalived gone as the handover asked) or ctx ends (then
// keepalived stops cleanly: kubelet stops the standby because its manifest was removed).
func runStandbyTerm(ctx context.Context, sup *agent.Supervisor, text []byte, socket string, logger klog.Logger) error {
	termCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	supCtx, supCancel := context.WithCancel(termCtx)
	defer supCancel()
	// supDone closes when the supervisor returns, with supErr set.
	var supErr error
	supDone := make(chan struct{})
	retired := make(chan struct{})
	server := &agent.HandoverServer{Socket: socket, Log: logger}
	server.Retire = func(mode agent.HandoverMode) error {
		if err := stopForHandover(sup, mode, supCancel, supDone); err != nil {
			return err
		}
		close(retired)
		return nil
	}
	l, err := server.Listen()
	if err != nil {
		return err
	}
	go func() { _ = server.Serve(termCtx, l) }()
	configs := make(chan []byte, 1)
	configs <- text
	go func() {
		supErr = sup.Run(supCtx, configs)
		close(supDone)
	}()
	select {
	case <-retired:
	case <-supDone:
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-retired:
		case <-time.After(time.Second):
			return fmt.Errorf("supervising keepalived stopped: %v", supErr)
		}
	}
	logger.Info("The DaemonSet's agent took the VIPs over: the standby is idle again")
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
