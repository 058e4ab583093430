// Command hacp-agent runs in a VIPGroup's DaemonSet: it supervises keepalived with the node's
// rendered config and reports VRRP state on its own Pod (the health check the rendered configs
// call and the readiness probe are hacp-check's, cmd/check). `hacp-agent bootstrap` runs in the
// static Pod that `hacpctl bootstrap` writes for the first node, before any API server exists,
// and hands the VIP over to the DaemonSet's agent once that runs on the node.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"hacp.dev/hacp/internal/agent"
	"hacp.dev/hacp/internal/apiclient"
	"hacp.dev/hacp/internal/check"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hacp-agent run|bootstrap|standby|check-apiserver|version [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "check-apiserver", "ready":
		// hacp-check's commands, for configs and probes written before hacp-check existed.
		os.Exit(check.Main(os.Args[1], os.Args[2:], os.Stderr))
	case "version":
		if err := printVersion(os.Stdout, os.Args[2:]); err != nil {
			os.Exit(2)
		}
	case "run":
		if err := run(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "hacp-agent:", err)
			os.Exit(1)
		}
	case "standby":
		if err := standby(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "hacp-agent standby:", err)
			os.Exit(1)
		}
	case "bootstrap":
		if err := bootstrap(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "hacp-agent bootstrap:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "hacp-agent: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var (
		namespace  = fs.String("namespace", os.Getenv(contract.EnvPodNamespace), "namespace of the VIPGroup and this Pod")
		pod        = fs.String("pod", os.Getenv(contract.EnvPodName), "this Pod's name (reports go on it)")
		node       = fs.String("node", os.Getenv(contract.EnvNodeName), "this node's name (its key in the config Secret)")
		hostIP     = fs.String("host-ip", os.Getenv(contract.EnvHostIP), "this node's address, to find the default interface")
		iface      = fs.String("interface", "", "VRRP interface (default: the one holding --host-ip)")
		secret     = fs.String("secret", "", "the rendered config Secret")
		dir        = fs.String("dir", contract.RunDir, "private directory for keepalived.conf, pid files and the notify FIFO")
		fifo       = fs.String("fifo", contract.FIFOPath, "notify FIFO path named by the rendered configs")
		binary     = fs.String("keepalived", contract.KeepalivedBinary, "keepalived binary")
		kubeconfig = fs.String("kubeconfig", "", "kubeconfig (default: in-cluster)")
		localAPI   = fs.String("local-apiserver", "", "the node's own API server (host:port), dialed before the kubernetes Service so that the agent needs no kube-proxy (default: --host-ip:6443 in-cluster; 'none' disables)")
		wrap       = fs.String("wrap", "", "space-separated command prefix for keepalived and ip (tests: 'ip netns exec h1')")
		handover   = fs.String("handover-socket", contract.DefaultHandoverSocket, "abstract unix socket of a bootstrap agent on this host to take the VIPs over from")
		vipgroup   = fs.String("vipgroup", "", "the VIPGroup's name: its standby's sockets and files")
		standbyImg = fs.String("standby-image", "", "hacp's image for this node's standby static Pod; empty: no standby is kept")
		standbyDir = fs.String("standby-dir", contract.StandbyDir, "host folder for the standby's last good config")
		manifests  = fs.String("manifests-dir", contract.ManifestDir, "kubelet's static Pod folder, for the standby's manifest")
		activeSock = fs.String("active-socket", "", "abstract socket this agent listens on while it runs (default: contract.ActiveSocket of the VIPGroup)")
		standbySk  = fs.String("standby-socket", "", "abstract socket of this node's standby (default: contract.StandbySocket of the VIPGroup)")
		leaveWait  = fs.Duration("leave-wait", 3*time.Second, "on SIGTERM with a standby kept, how long keepalived keeps running while the config Secret may still say that this node left the group")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	for name, v := range map[string]string{"namespace": *namespace, "pod": *pod, "node": *node, "secret": *secret} {
		if v == "" {
			return fmt.Errorf("--%s is required", name)
		}
	}
	logger := klog.NewKlogr().WithValues("node", *node)
	if *iface == "" {
		found, err := agent.InterfaceOf(*hostIP)
		if err != nil {
			return err
		}
		*iface = found
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	cfg.Timeout = 10 * time.Second
	switch {
	case *localAPI == "none":
	case *localAPI != "":
		cfg = apiclient.LocalFirst(cfg, *localAPI, time.Second)
	case *kubeconfig == "" && *hostIP != "":
		cfg = apiclient.LocalFirst(cfg, net.JoinHostPort(*hostIP, "6443"), time.Second)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}

	// ctx ends on SIGTERM, or a moment after it while the node's membership is settled (below).
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	left := make(chan struct{}, 1) // a signal each time this node leaves the group

	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events(*namespace)})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: contract.AppName, Host: *node})
	podRef := &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: *namespace, Name: *pod}

	rep := newPodReporter(cs, *namespace, *pod, logger)
	go rep.loop(ctx)

	configs := make(chan []byte, 1)
	watchConfig(ctx, cs, *namespace, *secret, *node, configs, logger)

	sup := &agent.Supervisor{
		Keepalived:       *binary,
		Dir:              *dir,
		FIFO:             *fifo,
		Interface:        *iface,
		Report:           rep.set,
		Log:              logger,
		KeepalivedOutput: agent.DropLines(os.Stderr, keepalived.SelfAdvertWarning),
	}
	if *wrap != "" {
		sup.Wrap = strings.Fields(*wrap)
	}
	var sho *agent.Handover
	if *vipgroup != "" {
		// While this agent runs, the node's standby stays idle; the kernel removes the socket
		// with this process, however it ends.
		if *activeSock == "" {
			*activeSock = contract.ActiveSocket(*namespace, *vipgroup)
		}
		if *standbySk == "" {
			*standbySk = contract.StandbySocket(*namespace, *vipgroup)
		}
		l, err := agent.ListenActive(*activeSock)
		if err != nil {
			return err
		}
		defer func() { _ = l.Close() }()
		if *standbyImg != "" {
			files, err := newStandbyFiles(*standbyDir, *manifests, *standbyImg, *namespace, *vipgroup, logger)
			if err != nil {
				return err
			}
			sup.Applied = files.applied
			sup.Left = func() {
				files.remove()
				select {
				case left <- struct{}{}:
				default:
				}
			}
		}
		sho = takeOver(sup, *standbySk, *dir, logger, "this node's standby keepalived", func(reason, msg string) {
			recorder.Event(podRef, corev1.EventTypeNormal, "Standby"+reason, msg)
		})
	}
	ho := takeOver(sup, *handover, *dir, logger, "the bootstrap keepalived on "+*node, func(reason, msg string) {
		recorder.Event(podRef, corev1.EventTypeNormal, "Bootstrap"+reason, msg)
	})
	// Before keepalived starts: VIPs a bootstrap keepalived holds here are not stale.
	bootActive := ho.Probe(ctx)
	standbyActive := sho != nil && sho.Probe(ctx)
	switch {
	case bootActive && standbyActive:
		sup.Adopt = func() bool { return ho.Active() || sho.Active() }
	case bootActive:
		sup.Adopt = ho.Active
	case standbyActive:
		sup.Adopt = sho.Active
	}
	if bootActive {
		go ho.Run(ctx)
	}
	if sho != nil {
		// The standby may also start just before this agent listens (a quick restart): look for
		// it every few seconds and take the VIPs over whenever it runs keepalived.
		go func() {
			for active := standbyActive; ctx.Err() == nil; active = sho.Probe(ctx) {
				if active {
					sho.Run(ctx)
				}
				sleep(ctx, 5*time.Second)
			}
		}()
	}
	go func() {
		<-sigCtx.Done()
		if sup.Left != nil {
			// The DaemonSet deletes this Pod when the node stops matching the VIPGroup's
			// nodeSelector, and the manager renders the config Secret without the node at
			// about the same moment. Until the node's membership is settled the standby stays:
			// keepalived keeps running while the Secret gets a moment to say whether the node
			// left (then the standby goes with it) or not (a restart, the VIPGroup deleted,
			// hacp removed: the standby takes over once this agent is gone). A leave
			// before the signal (the node left and came back) says nothing about this one.
			select {
			case <-left:
			default:
			}
			select {
			case <-left:
			case <-time.After(*leaveWait):
			}
		}
		cancel()
	}()
	logger.Info("Starting agent", "interface", *iface, "secret", *secret)
	err = sup.Run(ctx, configs)
	// Publish the final STOP before exiting, if the API answers quickly.
	flushCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rep.flush(flushCtx)
	return err
}

// bootstrap runs keepalived with a static config (no API server exists yet) and retires when the
// DaemonSet's agent on this host asks.
func bootstrap(args []string) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	var (
		config   = fs.String("config", contract.BootstrapConfigDir+"/"+contract.ConfigFile, "the keepalived.conf `hacpctl bootstrap` wrote")
		manifest = fs.String("manifest", "", "this Pod's static manifest, removed once the DaemonSet has taken over so kubelet stops the Pod")
		dir      = fs.String("dir", contract.RunDir, "private directory for keepalived's pid files and the notify FIFO")
		fifo     = fs.String("fifo", contract.FIFOPath, "notify FIFO path the config names (vrrp_notify_fifo)")
		binary   = fs.String("keepalived", contract.KeepalivedBinary, "keepalived binary")
		socket   = fs.String("handover-socket", contract.DefaultHandoverSocket, "abstract unix socket the DaemonSet's agent asks on")
		wrap     = fs.String("wrap", "", "space-separated command prefix for keepalived and ip (tests)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	text, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	logger := klog.NewKlogr().WithValues("bootstrap", true)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	sup := staticSupervisor(*binary, *dir, *fifo, *wrap, logger, "Bootstrap keepalived")
	supCtx, supCancel := context.WithCancel(ctx)
	defer supCancel()
	// supDone closes when the supervisor returns, with supErr set; both Retire and the end of this
	// function wait on it.
	var supErr error
	supDone := make(chan struct{})
	var retiring atomic.Bool
	configs := make(chan []byte, 1)
	configs <- text
	server := &agent.HandoverServer{Socket: *socket, Log: logger}
	server.Retire = func(mode agent.HandoverMode) error {
		retiring.Store(true)
		if err := stopForHandover(sup, mode, supCancel, supDone); err != nil {
			return err
		}
		if *manifest != "" {
			if err := removeOwnManifest(*manifest); err != nil {
				logger.Error(err, "The DaemonSet has taken over, but this static Pod's manifest could not be removed: remove it by hand", "manifest", *manifest)
			} else {
				logger.Info("Removed this static Pod's manifest; kubelet stops the Pod", "manifest", *manifest)
			}
		}
		return nil
	}
	l, err := server.Listen()
	if err != nil {
		return err
	}
	go func() { _ = server.Serve(ctx, l) }()
	logger.Info("Starting the bootstrap keepalived", "config", *config, "handoverSocket", "@"+*socket)
	go func() {
		supErr = sup.Run(supCtx, configs)
		close(supDone)
	}()
	select {
	case <-ctx.Done():
	case <-supDone:
		if !retiring.Load() && ctx.Err() == nil {
			// The supervisor gave up on its own (it could not set up its directory or FIFO):
			// exit, so that kubelet restarts the Pod and shows why.
			return fmt.Errorf("supervising keepalived stopped: %v", supErr)
		}
		<-ctx.Done() // retired: idle until kubelet stops the Pod
	}
	if !retiring.Load() {
		// Stopped before any handover (the manifest removed by hand): keepalived stops cleanly.
		supCancel()
		<-supDone
		return supErr
	}
	return nil
}

// takeOver is the DaemonSet agent's side of a handover from another keepalived on this node (the
// bootstrap or the standby, named by what): it asks on socket once sup's keepalived has settled, and
// records the outcome with event("Retired", message).
func takeOver(sup *agent.Supervisor, socket, dir string, logger klog.Logger, what string, event func(reason, msg string)) *agent.Handover {
	return &agent.Handover{
		Socket:    socket,
		Instances: sup.InstanceStates,
		MasterDown: func() time.Duration {
			text, _ := os.ReadFile(filepath.Join(dir, contract.ConfigFile))
			return agent.MasterDownOf(text)
		},
		OnRetired: func(mode agent.HandoverMode) {
			msg := "Took the VIPs over from " + what + ", which kept them in place until this keepalived held them"
			if mode == agent.HandoverKeep {
				sup.ExpectLeftoverVIPs()
			} else {
				msg = strings.ToUpper(what[:1]) + what[1:] + " released the VIPs: another node is MASTER"
			}
			event("Retired", msg)
		},
		Log: logger,
	}
}

// staticSupervisor runs keepalived from a config on disk, without an API server to report to (the
// bootstrap and the standby): it logs each state as label.
func staticSupervisor(binary, dir, fifo, wrap string, logger klog.Logger, label string) *agent.Supervisor {
	sup := &agent.Supervisor{
		Keepalived:       binary,
		Dir:              dir,
		FIFO:             fifo,
		Log:              logger,
		KeepalivedOutput: agent.DropLines(os.Stderr, keepalived.SelfAdvertWarning),
		Report: func(r contract.Report) {
			logger.Info(label, "state", r.State, "hash", r.ConfigHash, "configError", r.ConfigError)
		},
	}
	if wrap != "" {
		sup.Wrap = strings.Fields(wrap)
	}
	return sup
}

// stopForHandover stops sup's keepalived (by cancel) for a handover in mode, leaving the VIPs in
// place for HandoverKeep, and waits at most 30 s for the supervisor to return (done).
func stopForHandover(sup *agent.Supervisor, mode agent.HandoverMode, cancel context.CancelFunc, done <-chan struct{}) error {
	if mode == agent.HandoverKeep {
		sup.LeaveVIPsOnStop()
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("keepalived did not stop within 30s")
	}
}

// removeOwnManifest deletes the bootstrap static Pod's manifest, after checking it is one.
func removeOwnManifest(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), "hacp-agent") || !strings.Contains(string(b), "bootstrap") {
		return fmt.Errorf("%s does not look like hacp's bootstrap Pod; not removing it", path)
	}
	return os.Remove(path)
}

// watchConfig streams this node's key of the config Secret. The informer lists and watches
// exactly one Secret by name, which is all the agent's Role allows.
func watchConfig(ctx context.Context, cs kubernetes.Interface, namespace, secret, node string, out chan []byte, logger klog.Logger) {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute,
		informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", secret).String()
		}))
	inf := factory.Core().V1().Secrets().Informer()
	member := false // the Secret has had a config for this node
	send := func(obj any) {
		s, ok := obj.(*corev1.Secret)
		if !ok {
			return
		}
		text, ok := s.Data[node]
		if !ok && !member {
			logger.Info("No config for this node in the Secret yet", "secret", secret)
			return
		}
		if !ok {
			// Rendered without this node: it left the group, and must stop advertising.
			logger.Info("This node's config left the Secret: the node is no longer a member", "secret", secret)
			text = nil
		}
		member = ok
		select {
		case <-out: // drop a config not yet applied: the latest wins
		default:
		}
		out <- text
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    send,
		UpdateFunc: func(_, n any) { send(n) },
	})
	factory.Start(ctx.Done())
}

// podReporter writes the latest report to the Pod's annotations, retrying in the background.
type podReporter struct {
	cs        kubernetes.Interface
	namespace string
	pod       string
	log       klog.Logger

	mu       sync.Mutex
	latest   contract.Report
	dirty    bool
	reported bool // a report was set: heartbeats repeat it
	changed  chan struct{}
}

func newPodReporter(cs kubernetes.Interface, namespace, pod string, log klog.Logger) *podReporter {
	return &podReporter{cs: cs, namespace: namespace, pod: pod, log: log, changed: make(chan struct{}, 1)}
}

func (p *podReporter) set(r contract.Report) {
	p.mu.Lock()
	p.latest, p.dirty, p.reported = r, true, true
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// loop writes every change at once, and the same report again every contract.HeartbeatInterval so
// that the manager can tell a live agent from one that died with its node.
func (p *podReporter) loop(ctx context.Context) {
	backoff := 200 * time.Millisecond
	heartbeat := time.NewTicker(contract.HeartbeatInterval)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.changed:
		case <-heartbeat.C:
			p.mu.Lock()
			p.dirty = p.dirty || p.reported
			p.mu.Unlock()
		case <-time.After(backoff):
		}
		if err := p.flush(ctx); err != nil {
			p.log.Error(err, "Reporting state on the Pod failed; keepalived is unaffected, retrying")
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
	}
}

func (p *podReporter) flush(ctx context.Context) error {
	p.mu.Lock()
	r, dirty := p.latest, p.dirty
	p.mu.Unlock()
	if !dirty {
		return nil
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": r.Annotations(time.Now())}}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	if _, err := p.cs.CoreV1().Pods(p.namespace).Patch(ctx, p.pod, types.MergePatchType, body, metav1.PatchOptions{FieldManager: contract.AppName}); err != nil {
		return err
	}
	p.mu.Lock()
	if p.latest == r {
		p.dirty = false
	}
	p.mu.Unlock()
	return nil
}
