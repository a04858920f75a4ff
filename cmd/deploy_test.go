// Package cmd_test checks what deploys the binaries of cmd/ (the
// repository's deploy/: container images and Kubernetes manifests) against
// their flags, so they cannot drift apart.
package cmd_test

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hssee/hssee/party"
	"github.com/hssee/hssee/party/dealersvc"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// deployDir holds the Dockerfiles (docker/) and the kustomize bases and
// overlays (k8s/).
const deployDir = "../deploy"

// role is one binary as the manifests and images deploy it.
type role struct {
	name     string // container, binary and overlay name
	flags    *flag.FlagSet
	prefix   string   // environment variable prefix
	service  string   // the gRPC service its readiness is about
	tlsFiles []string // the files of party.Files it needs: CA, certificate, key
	model    bool     // it serves a model from a volume
	peer     string   // the flag naming another host's address, and that host's role
	peerRole string
}

func roles() []role {
	tls := func(n string) []string { return []string{"ca.pem", n + ".pem", n + "-key.pem"} }
	return []role{
		{name: "party0", flags: party.NewFlags(0).Set, prefix: party.EnvPrefix, service: pb.Session_ServiceDesc.ServiceName,
			tlsFiles: tls("party0"), model: true, peer: "peer", peerRole: "party1"},
		{name: "party1", flags: party.NewFlags(1).Set, prefix: party.EnvPrefix, service: pb.Session_ServiceDesc.ServiceName,
			tlsFiles: tls("party1"), model: true},
		{name: "dealer", flags: dealersvc.NewFlags().Set, prefix: dealersvc.EnvPrefix, service: pb.Dealer_ServiceDesc.ServiceName,
			tlsFiles: tls("dealer")},
	}
}

// defaultPort is a role's default -listen port.
func defaultPort(t *testing.T, r role) int {
	t.Helper()
	return port(t, r.flags.Lookup("listen").DefValue)
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// The Kubernetes objects the test reads (JSON field names as in the API).
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		// Deployment
		Replicas *int `json:"replicas"`
		Selector *struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Strategy struct {
			Type string `json:"type"`
		} `json:"strategy"`
		Template struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec podSpec `json:"spec"`
		} `json:"template"`
		// Service (its selector is a plain map: read separately)
		Type  string `json:"type"`
		Ports []struct {
			Name       string `json:"name"`
			Port       int    `json:"port"`
			TargetPort any    `json:"targetPort"`
		} `json:"ports"`
		// PodDisruptionBudget
		MinAvailable   any `json:"minAvailable"`
		MaxUnavailable any `json:"maxUnavailable"`
		// NetworkPolicy
		PodSelector *struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"podSelector"`
		PolicyTypes []string `json:"policyTypes"`
		Ingress     []struct {
			Ports []struct {
				Port any `json:"port"`
			} `json:"ports"`
			From []map[string]any `json:"from"`
		} `json:"ingress"`
	} `json:"spec"`
	raw []byte
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool `json:"runAsNonRoot"`
		RunAsUser    *int  `json:"runAsUser"`
	} `json:"securityContext"`
	Containers []struct {
		Name    string   `json:"name"`
		Image   string   `json:"image"`
		Command []string `json:"command"`
		Args    []string `json:"args"`
		Env     []struct {
			Name      string `json:"name"`
			Value     string `json:"value"`
			ValueFrom any    `json:"valueFrom"`
		} `json:"env"`
		Ports []struct {
			Name          string `json:"name"`
			ContainerPort int    `json:"containerPort"`
		} `json:"ports"`
		StartupProbe   *probe `json:"startupProbe"`
		ReadinessProbe *probe `json:"readinessProbe"`
		LivenessProbe  *probe `json:"livenessProbe"`
		Resources      struct {
			Requests map[string]string `json:"requests"`
			Limits   map[string]string `json:"limits"`
		} `json:"resources"`
		SecurityContext struct {
			ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		} `json:"securityContext"`
		VolumeMounts []struct {
			Name      string `json:"name"`
			MountPath string `json:"mountPath"`
			ReadOnly  bool   `json:"readOnly"`
		} `json:"volumeMounts"`
	} `json:"containers"`
	Volumes []struct {
		Name   string `json:"name"`
		Secret *struct {
			SecretName string `json:"secretName"`
			Items      []struct {
				Key  string `json:"key"`
				Path string `json:"path"`
			} `json:"items"`
		} `json:"secret"`
		PersistentVolumeClaim *struct {
			ClaimName string `json:"claimName"`
		} `json:"persistentVolumeClaim"`
	} `json:"volumes"`
}

type probe struct {
	GRPC *struct {
		Port    int     `json:"port"`
		Service *string `json:"service"`
	} `json:"grpc"`
	HTTPGet   any `json:"httpGet"`
	TCPSocket any `json:"tcpSocket"`
	Exec      any `json:"exec"`
}

// kustomize renders an overlay with kubectl (which CI's image has, like
// this one): a missing kubectl fails the test, it does not skip it.
func kustomize(t *testing.T, dir string) []object {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is not installed: the deployment manifests cannot be rendered and checked (install kubectl >= 1.27, which bundles kustomize): %v", err)
	}
	if dir == "" {
		return nil
	}
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	var objs []object
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o object
		if err := yaml.UnmarshalStrict([]byte(doc), &map[string]any{}); err != nil {
			t.Fatalf("%s: a rendered document is not YAML: %v", dir, err)
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("%s: %v\n%s", dir, err, doc)
		}
		o.raw = []byte(doc)
		objs = append(objs, o)
	}
	return objs
}

func find(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func one(t *testing.T, objs []object, kind string) object {
	t.Helper()
	f := find(objs, kind)
	if len(f) != 1 {
		t.Fatalf("%d %s objects, want 1", len(f), kind)
	}
	return f[0]
}

// subset reports whether every label of sel is in labels (sel non-empty).
func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Every overlay renders offline, and what it deploys matches the binary:
// each HSSEE_* variable and argument is a flag of that binary with a value
// it accepts; the container ports are the -listen, -metrics and -health
// ports; the probes ask grpc.health.v1 on the -health port (the kubelet
// presents no client certificate, so the TLS port would refuse it); the
// TLS flags name files of the mounted Secret, whose keys are the files
// client certs writes for that role; the Service, NetworkPolicy and
// PodDisruptionBudget select the pod; and party 1's gRPC port admits
// only party 0 and the client.
func TestOverlays(t *testing.T) {
	kustomize(t, "") // fails at once, clearly, without kubectl
	overlays, err := os.ReadDir(filepath.Join(deployDir, "k8s", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ov := range overlays {
		if !ov.IsDir() {
			continue
		}
		t.Run(ov.Name(), func(t *testing.T) {
			objs := kustomize(t, filepath.Join(deployDir, "k8s", "overlays", ov.Name()))
			dep := one(t, objs, "Deployment")
			pod := dep.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers", len(pod.Containers))
			}
			c := pod.Containers[0]
			var r role
			for _, x := range roles() {
				if x.name == c.Name {
					r = x
				}
			}
			if r.name == "" {
				t.Fatalf("container %q is none of the binaries", c.Name)
			}
			seen[r.name] = true
			checkDeployment(t, r, objs, dep)
		})
	}
	for _, r := range roles() {
		if !seen[r.name] {
			t.Errorf("no overlay deploys %s", r.name)
		}
	}
}

func checkDeployment(t *testing.T, r role, objs []object, dep object) {
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	podLabels := dep.Spec.Template.Metadata.Labels

	// The image runs the binary as built (no command override), and its
	// configuration is the binary's flags, set by environment variables.
	if len(c.Command) > 0 {
		t.Errorf("the container overrides the image's entrypoint: %v", c.Command)
	}
	if !strings.Contains(c.Image, r.name) {
		t.Errorf("image %q is not %s's", c.Image, r.name)
	}
	fs := flag.NewFlagSet(r.name, flag.ContinueOnError)
	r.flags.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	for _, e := range c.Env {
		name, ok := strings.CutPrefix(e.Name, r.prefix)
		if !ok {
			if strings.HasPrefix(e.Name, "HSSEE_") {
				t.Errorf("%s: not a variable of %s (prefix %s)", e.Name, r.name, r.prefix)
			}
			continue
		}
		fl := strings.ReplaceAll(strings.ToLower(name), "_", "-")
		if fs.Lookup(fl) == nil {
			t.Errorf("%s: %s has no flag -%s", e.Name, r.name, fl)
			continue
		}
		if e.ValueFrom != nil {
			continue
		}
		if err := fs.Set(fl, e.Value); err != nil {
			t.Errorf("%s=%q: -%s refuses it: %v", e.Name, e.Value, fl, err)
		}
	}
	fs.SetOutput(new(bytes.Buffer))
	if err := fs.Parse(c.Args); err != nil || fs.NArg() > 0 {
		t.Errorf("args %v: %v", c.Args, err)
	}
	val := func(name string) string { return fs.Lookup(name).Value.String() }

	// Ports: the container's named ports are the flags' ports; the gRPC
	// port is the binary's default (the one docs/DEPLOY.md documents).
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, flagName := range map[string]string{"grpc": "listen", "metrics": "metrics", "health": "health"} {
		if val(flagName) == "" {
			t.Errorf("-%s is not set", flagName)
			continue
		}
		if got, want := ports[name], port(t, val(flagName)); got != want {
			t.Errorf("container port %q is %d, -%s is %s", name, got, flagName, val(flagName))
		}
	}
	if ports["grpc"] != defaultPort(t, r) {
		t.Errorf("gRPC port %d, the binary's default is %d", ports["grpc"], defaultPort(t, r))
	}
	if len(ports) != 3 {
		t.Errorf("container ports %v, want grpc, metrics and health", ports)
	}

	// Probes: grpc.health.v1 on the plaintext -health port.
	for what, p := range map[string]*probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		switch {
		case p == nil:
			t.Errorf("no %s probe", what)
		case p.GRPC == nil || p.HTTPGet != nil || p.TCPSocket != nil || p.Exec != nil:
			t.Errorf("the %s probe is not a gRPC (grpc.health.v1) probe", what)
		case p.GRPC.Port != port(t, val("health")):
			t.Errorf("the %s probe asks port %d, -health is %s", what, p.GRPC.Port, val("health"))
		case p.GRPC.Service != nil && *p.GRPC.Service != "" && *p.GRPC.Service != r.service:
			t.Errorf("the %s probe asks for service %q, the binary reports \"\" and %q", what, *p.GRPC.Service, r.service)
		}
	}
	if p := c.ReadinessProbe; p != nil && p.GRPC != nil && (p.GRPC.Service == nil || *p.GRPC.Service != r.service) {
		t.Errorf("readiness should ask for %q", r.service)
	}

	// Certificates: a Secret volume whose items are the role's files, at
	// the paths -tls-ca, -tls-cert and -tls-key name.
	var secretMount, secretName string
	var items map[string]string
	for _, v := range pod.Volumes {
		if v.Secret == nil {
			continue
		}
		secretName = v.Secret.SecretName
		items = map[string]string{}
		for _, it := range v.Secret.Items {
			items[it.Key] = it.Path
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name {
				secretMount = m.MountPath
				if !m.ReadOnly {
					t.Errorf("the certificate volume is writable")
				}
			}
		}
	}
	if want := "hssee-" + r.name + "-tls"; secretName != want {
		t.Errorf("certificate Secret %q, want %q", secretName, want)
	}
	if secretMount == "" {
		t.Fatal("no certificate Secret mounted")
	}
	for i, fl := range []string{"tls-ca", "tls-cert", "tls-key"} {
		file := r.tlsFiles[i]
		if !slices.Contains(party.Files, file) {
			t.Fatalf("%s is not a file client certs writes", file)
		}
		if items[file] == "" {
			t.Errorf("the Secret's items lack %s (items %v)", file, items)
		}
		if got, want := val(fl), path.Join(secretMount, items[file]); got != want {
			t.Errorf("-%s is %q, the Secret's %s is mounted at %q", fl, got, file, want)
		}
	}
	if len(items) != 3 {
		t.Errorf("the Secret mounts %v: only the role's CA, certificate and key belong there", items)
	}
	if r.model {
		ok := false
		for _, m := range c.VolumeMounts {
			if m.ReadOnly && (val("model") == m.MountPath || strings.HasPrefix(val("model"), m.MountPath+"/")) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("-model %q is on no read-only volume", val("model"))
		}
	}
	if r.peer != "" {
		if p := port(t, val(r.peer)); p != defaultPort(t, roleNamed(r.peerRole)) {
			t.Errorf("-%s %s: %s serves on %d", r.peer, val(r.peer), r.peerRole, defaultPort(t, roleNamed(r.peerRole)))
		}
	}
	if f := fs.Lookup("dealer"); f != nil && r.name != "dealer" && f.Value.String() != "" {
		if p := port(t, f.Value.String()); p != dealersvc.DefaultPort {
			t.Errorf("-dealer %s: the dealer serves on %d", f.Value.String(), dealersvc.DefaultPort)
		}
	}
	if r.name == "dealer" && val("seed") != "" {
		t.Error("-seed is for tests only")
	}

	// One replica, replaced with Recreate: a session lives in one process.
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != "Recreate" {
		t.Errorf("replicas %v, strategy %q: want 1 and Recreate", dep.Spec.Replicas, dep.Spec.Strategy.Type)
	}
	if dep.Spec.Selector == nil || !subset(dep.Spec.Selector.MatchLabels, podLabels) {
		t.Error("the Deployment's selector does not select its pods")
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("the pod may run as root")
	}
	if sc := c.SecurityContext; sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("want a read-only root file system and no privilege escalation")
	}

	// Services: the gRPC one (the binary's port) and the metrics one, both
	// selecting the pod and targeting its named ports.
	svcPorts := map[string]int{}
	for _, s := range find(objs, "Service") {
		var sel struct {
			Spec struct {
				Selector map[string]string `json:"selector"`
			} `json:"spec"`
		}
		yaml.Unmarshal(s.raw, &sel)
		if !subset(sel.Spec.Selector, podLabels) {
			t.Errorf("Service %s does not select the pod", s.Metadata.Name)
		}
		for _, p := range s.Spec.Ports {
			tp := fmt.Sprint(p.TargetPort)
			if n, err := strconv.Atoi(tp); err == nil {
				if !slices.ContainsFunc(c.Ports, func(cp struct {
					Name          string `json:"name"`
					ContainerPort int    `json:"containerPort"`
				}) bool {
					return cp.ContainerPort == n
				}) {
					t.Errorf("Service %s targets port %d, which the container does not serve", s.Metadata.Name, n)
				}
			} else if _, ok := ports[tp]; !ok {
				t.Errorf("Service %s targets port %q, which the container does not name", s.Metadata.Name, tp)
			}
			if tp == "health" || tp == strconv.Itoa(ports["health"]) {
				t.Errorf("Service %s exposes the plaintext health port", s.Metadata.Name)
			}
			svcPorts[tp] = p.Port
			if tp == "metrics" && s.Spec.Type != "ClusterIP" && s.Spec.Type != "" {
				t.Errorf("Service %s exposes metrics as %s: keep them in the cluster", s.Metadata.Name, s.Spec.Type)
			}
		}
	}
	if svcPorts["grpc"] != defaultPort(t, r) {
		t.Errorf("the gRPC Service port is %d, want %d", svcPorts["grpc"], defaultPort(t, r))
	}

	// PodDisruptionBudget for the pod.
	pdb := one(t, objs, "PodDisruptionBudget")
	if pdb.Spec.Selector == nil || !subset(pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Error("the PodDisruptionBudget does not select the pod")
	}
	if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
		t.Error("the PodDisruptionBudget sets no budget")
	}

	// NetworkPolicy: ingress only, selecting the pod; the gRPC port open
	// only to listed peers (never to everyone), the health port to nobody
	// (the kubelet reaches it from the node).
	np := one(t, objs, "NetworkPolicy")
	if np.Spec.PodSelector == nil || !subset(np.Spec.PodSelector.MatchLabels, podLabels) {
		t.Error("the NetworkPolicy does not select the pod")
	}
	if !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
		t.Error("the NetworkPolicy does not restrict ingress")
	}
	var grpcFrom []map[string]any
	for _, in := range np.Spec.Ingress {
		if len(in.Ports) == 0 {
			t.Error("a NetworkPolicy rule opens every port")
		}
		for _, p := range in.Ports {
			ps := fmt.Sprint(p.Port)
			if ps == "health" || ps == strconv.Itoa(ports["health"]) {
				t.Error("the NetworkPolicy opens the health port")
			}
			if _, named := ports[ps]; !named {
				if n, err := strconv.Atoi(ps); err != nil || !slices.Contains([]int{ports["grpc"], ports["metrics"]}, n) {
					t.Errorf("the NetworkPolicy opens port %s, which the container does not serve", ps)
				}
			}
			if ps == "grpc" || ps == strconv.Itoa(ports["grpc"]) {
				if len(in.From) == 0 {
					t.Error("the NetworkPolicy opens the gRPC port to everyone")
				}
				grpcFrom = append(grpcFrom, in.From...)
			}
		}
	}
	if len(grpcFrom) == 0 {
		t.Error("the NetworkPolicy opens the gRPC port to no one")
	}
	if r.name == "party1" {
		// Party 0 (by address, or by pod in a single cluster) and the
		// client's addresses; nothing else.
		if len(grpcFrom) != 2 && len(grpcFrom) != 3 {
			t.Errorf("party 1's gRPC port is open to %v: want party 0 and the client", grpcFrom)
		}
		for _, f := range grpcFrom {
			if _, ok := f["namespaceSelector"]; ok {
				t.Errorf("party 1's gRPC port is open to a namespace: %v", f)
			}
			if ps, ok := f["podSelector"].(map[string]any); ok {
				ml, _ := ps["matchLabels"].(map[string]any)
				if fmt.Sprint(ml["app.kubernetes.io/name"]) != "hssee-party0" || len(ml) != 1 {
					t.Errorf("party 1's gRPC port is open to pods %v: only party 0's", ps)
				}
			}
			if ib, ok := f["ipBlock"].(map[string]any); ok {
				cidr := fmt.Sprint(ib["cidr"])
				if _, n, err := net.ParseCIDR(cidr); err != nil {
					t.Errorf("ipBlock %q: %v", cidr, err)
				} else if ones, _ := n.Mask.Size(); ones == 0 {
					t.Errorf("party 1's gRPC port is open to %s: everyone", cidr)
				}
			}
		}
	}
}

func roleNamed(name string) role {
	for _, r := range roles() {
		if r.name == name {
			return r
		}
	}
	panic("no role " + name)
}

// Each binary's Dockerfile is multi-stage: a golang build stage matching
// go.mod's Go version runs go build (static: CGO_ENABLED=0, -trimpath) of
// the right ./cmd package, and the final stage is an empty (or distroless
// static) image that copies only that binary, runs as a non-root user, has
// no shell (no RUN) and exposes the binary's default port.
func TestDockerfiles(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("no go directive in go.mod")
	}
	for _, r := range roles() {
		t.Run(r.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(deployDir, "docker", r.name+".Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			type stage struct {
				from, as string
				lines    []string
			}
			var stages []*stage
			for l := range strings.Lines(strings.ReplaceAll(string(b), "\\\n", " ")) {
				l = strings.TrimSpace(l)
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				f := strings.Fields(l)
				if strings.EqualFold(f[0], "FROM") {
					s := &stage{from: f[1]}
					if len(f) == 4 && strings.EqualFold(f[2], "AS") {
						s.as = f[3]
					}
					stages = append(stages, s)
					continue
				}
				if len(stages) == 0 {
					if !strings.EqualFold(f[0], "ARG") {
						t.Fatalf("%q before FROM", l)
					}
					continue
				}
				stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, l)
			}
			if len(stages) < 2 {
				t.Fatalf("%d stages: want a build stage and a runtime stage", len(stages))
			}
			build, final := stages[0], stages[len(stages)-1]
			if want := "golang:" + string(goVersion[1]); !strings.HasPrefix(build.from, want) || build.as == "" {
				t.Errorf("build stage FROM %s AS %q: want %s (go.mod) with a name", build.from, build.as, want)
			}
			var built bool
			for _, l := range build.lines {
				if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
					built = true
					for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /out/" + r.name + " ", "./cmd/" + r.name} {
						if !strings.Contains(l+" ", want) {
							t.Errorf("build %q lacks %q", l, want)
						}
					}
				}
			}
			if !built {
				t.Error("the build stage runs no go build")
			}
			if final.from != "scratch" && !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
				t.Errorf("runtime stage FROM %s: want scratch or distroless static (no shell)", final.from)
			}
			var user, entry, expose string
			for _, l := range final.lines {
				f := strings.Fields(l)
				switch strings.ToUpper(f[0]) {
				case "RUN", "SHELL":
					t.Errorf("the runtime stage runs %q: it has no shell", l)
				case "USER":
					user = f[1]
				case "ENTRYPOINT":
					entry = strings.TrimSpace(strings.TrimPrefix(l, f[0]))
				case "EXPOSE":
					expose = l
				case "COPY":
					if want := "--from=" + build.as + " /out/" + r.name + " /" + r.name; !strings.Contains(l, want) {
						t.Errorf("%q: want only %q", l, want)
					}
				}
			}
			if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
				t.Errorf("USER %q: want a non-root numeric user", user)
			} else if _, err := strconv.Atoi(uid); err != nil {
				t.Errorf("USER %q: scratch has no /etc/passwd: want a numeric uid", user)
			}
			if want := `["/` + r.name + `"]`; entry != want {
				t.Errorf("ENTRYPOINT %s, want %s (exec form: there is no shell)", entry, want)
			}
			if !slices.Contains(strings.Fields(expose), strconv.Itoa(defaultPort(t, r))) {
				t.Errorf("%q does not expose %d", expose, defaultPort(t, r))
			}
		})
	}
}
