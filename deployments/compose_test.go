package deployments_test

// Static checks of the container stack (../docker-compose.yml, docker/Dockerfile, nginx/*.conf): there
// is no Docker engine on the machines that run `make test`, so these tests are what keeps the files
// honest. With nginx installed they also run `nginx -t` on the local and the compose nginx configs.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const repoRoot = ".." // go test runs in deployments/

// The Go services of services/*, all scalable, and the infrastructure around them.
var (
	goServices     = []string{"edge", "presence", "chat", "notify"}
	infraServices  = []string{"kafka", "redis", "nginx"}
	noPortServices = []string{"presence", "chat", "notify"} // no network port: no health check possible
)

// ---------------------------------------------------------------- compose model

type composeFile struct {
	Name     string             `yaml:"name"`
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image           string         `yaml:"image"`
	Build           *buildSpec     `yaml:"build"`
	Environment     envMap         `yaml:"environment"`
	Ports           []string       `yaml:"ports"`
	Expose          []string       `yaml:"expose"`
	ContainerName   string         `yaml:"container_name"`
	DependsOn       dependsOn      `yaml:"depends_on"`
	Healthcheck     *healthcheck   `yaml:"healthcheck"`
	Volumes         []string       `yaml:"volumes"`
	StopGracePeriod string         `yaml:"stop_grace_period"`
	Command         []string       `yaml:"command"`
	Raw             map[string]any `yaml:"-"` // every key, to catch unknown ones
}

type buildSpec struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

// UnmarshalYAML accepts both `build: ./dir` and the long form.
func (b *buildSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain buildSpec
	return n.Decode((*plain)(b))
}

type healthcheck struct {
	Test        testCmd `yaml:"test"`
	Disable     bool    `yaml:"disable"`
	Interval    string  `yaml:"interval"`
	Timeout     string  `yaml:"timeout"`
	Retries     int     `yaml:"retries"`
	StartPeriod string  `yaml:"start_period"`
}

// testCmd is a health check's `test:`: a list, or a string, which compose runs as CMD-SHELL.
type testCmd []string

func (c *testCmd) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*c = testCmd{"CMD-SHELL", n.Value}
		return nil
	}
	return n.Decode((*[]string)(c))
}

// envMap is `environment:` in either compose form (mapping, or list of KEY=VALUE), merge keys applied.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	*e = envMap{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			if v == nil {
				(*e)[k] = ""
			} else {
				(*e)[k] = fmt.Sprint(v)
			}
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment must be a mapping or a list", n.Line)
	}
	return nil
}

// dependsOn is `depends_on:` in either form; the list form means condition service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for s, c := range m {
		if c.Condition == "" {
			c.Condition = "service_started"
		}
		(*d)[s] = c.Condition
	}
	return nil
}

// The service keys this stack may use; anything else is most likely a typo (`depends-on`, `healtcheck`),
// which Docker would reject and these tests would otherwise not notice.
var knownServiceKeys = []string{
	"image", "build", "environment", "ports", "expose", "container_name", "depends_on", "healthcheck",
	"volumes", "stop_grace_period", "command", "entrypoint", "restart", "read_only", "tmpfs", "cap_drop",
	"security_opt", "user", "deploy", "networks", "labels", "ulimits", "init",
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var raw struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for name, s := range c.Services {
		s.Raw = raw.Services[name]
		c.Services[name] = s
	}
	return c
}

// interpolate resolves compose's ${VAR:-default} / ${VAR-default} / ${VAR} with an empty environment:
// what the stack gets on a machine where nothing is set.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

func interpolate(s string) string {
	return interpolation.ReplaceAllString(s, "$2")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---------------------------------------------------------------- services, ports, env

func TestComposeHasEveryService(t *testing.T) {
	c := loadCompose(t)
	for _, name := range append(slices.Clone(goServices), infraServices...) {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %q is missing", name)
		}
	}
	for name, s := range c.Services {
		for k := range s.Raw {
			if !slices.Contains(knownServiceKeys, k) {
				t.Errorf("%s: unknown key %q", name, k)
			}
		}
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither image nor build", name)
		}
	}
}

func TestOnlyNginxPublishesAHostPort(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if name == "nginx" {
			continue
		}
		// `docker compose up --scale X=3` fails on a fixed host port or a container_name.
		if len(s.Ports) > 0 {
			t.Errorf("%s publishes host ports %v: it could not be scaled, and only nginx is public", name, s.Ports)
		}
		if s.ContainerName != "" {
			t.Errorf("%s has container_name %q: it could not be scaled", name, s.ContainerName)
		}
	}
	edge := c.Services["edge"]
	port := edge.Environment["PORT"]
	if !slices.Contains(edge.Expose, port) {
		t.Errorf("edge: expose %v does not list its PORT %q", edge.Expose, port)
	}
	ng := c.Services["nginx"]
	if len(ng.Ports) != 1 {
		t.Fatalf("nginx: want one published port, got %v", ng.Ports)
	}
	mapping := interpolate(ng.Ports[0])
	_, container, ok := strings.Cut(mapping, ":")
	if !ok {
		t.Fatalf("nginx: port %q is not HOST:CONTAINER", ng.Ports[0])
	}
	if mapping != "4100:4100" {
		t.Errorf("nginx: by default the stack must answer on host port 4100 like `make run`, got %q", mapping)
	}
	if listen := regexp.MustCompile(`(?m)^\s*listen\s+(\d+)\s*;`).FindStringSubmatch(readFile(t, "nginx/docker.conf")); listen == nil || listen[1] != container {
		t.Errorf("nginx/docker.conf must listen on the published container port %s, got %v", container, listen)
	}
}

// settingNames collects every variable the Go code reads (`env:"NAME"` struct tags) and every one that
// .env.example documents.
func settingNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	tag := regexp.MustCompile(`env:"([A-Z][A-Z0-9_]*)"`)
	for _, dir := range []string{"pkg", "services"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			for _, m := range tag.FindAllStringSubmatch(readFile(t, p), -1) {
				names[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^#?\s*([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(readFile(t, filepath.Join(repoRoot, ".env.example")), -1) {
		names[m[1]] = true
	}
	return names
}

func TestGoServicesRunDistributedOnTheComposeBrokers(t *testing.T) {
	c := loadCompose(t)
	known := settingNames(t)
	if !known["BUS"] || !known["KAFKA_BROKERS"] || !known["REDIS_ADDR"] {
		t.Fatalf("the Go code no longer reads BUS, KAFKA_BROKERS and REDIS_ADDR: update this test (found %d names)", len(known))
	}

	// Where the brokers really are, from their own service definitions.
	kafka := c.Services["kafka"].Environment
	var kafkaAddr string
	for _, l := range strings.Split(kafka["KAFKA_ADVERTISED_LISTENERS"], ",") {
		if name, addr, ok := strings.Cut(l, "://"); ok && name == "PLAINTEXT" {
			kafkaAddr = addr
		}
	}
	if kafkaAddr == "" {
		t.Fatalf("kafka: no PLAINTEXT advertised listener in %q", kafka["KAFKA_ADVERTISED_LISTENERS"])
	}
	redisAddr := "redis:6379"
	if cmd := c.Services["redis"].Command; slices.Contains(cmd, "--port") {
		redisAddr = "redis:" + cmd[slices.Index(cmd, "--port")+1]
	}

	for _, name := range goServices {
		s := c.Services[name]
		env := s.Environment
		want := map[string]string{"BUS": "distributed", "KAFKA_BROKERS": kafkaAddr, "REDIS_ADDR": redisAddr}
		for k, v := range want {
			if got := interpolate(env[k]); got != v {
				t.Errorf("%s: %s=%q, want %q", name, k, got, v)
			}
		}
		for k := range env {
			if !known[k] {
				t.Errorf("%s: %s is not a setting of the Go code or .env.example (typo?)", name, k)
			}
		}
		if _, ok := env["INSTANCE_ID"]; ok {
			t.Errorf("%s: a fixed INSTANCE_ID would be shared by every replica of --scale", name)
		}
		if s.Build == nil {
			t.Errorf("%s: no build section", name)
		}
	}

	edge := c.Services["edge"].Environment
	if _, err := strconv.Atoi(edge["PORT"]); err != nil {
		t.Errorf("edge: PORT=%q is not a port", edge["PORT"])
	}
	for _, k := range []string{"JWT_SECRET", "ADMIN_TOKEN"} {
		if interpolate(edge[k]) == "" {
			t.Errorf("edge: %s has no development default", k)
		}
	}
	if len(interpolate(edge["JWT_SECRET"])) < 32 {
		t.Errorf("edge: the default JWT_SECRET should be 32 bytes or more")
	}
	grace, err1 := time.ParseDuration(c.Services["edge"].StopGracePeriod)
	shutdown, err2 := time.ParseDuration(edge["SHUTDOWN_TIMEOUT"])
	if err1 != nil || err2 != nil || grace <= shutdown {
		t.Errorf("edge: stop_grace_period (%q) must exceed SHUTDOWN_TIMEOUT (%q), or Docker kills edges mid-drain",
			c.Services["edge"].StopGracePeriod, edge["SHUTDOWN_TIMEOUT"])
	}

	for _, k := range []string{"KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_QUORUM_VOTERS", "CLUSTER_ID", "KAFKA_NODE_ID"} {
		if kafka[k] == "" {
			t.Errorf("kafka: %s is required in KRaft mode", k)
		}
	}
	if kafka["KAFKA_PROCESS_ROLES"] != "broker,controller" {
		t.Errorf("kafka: want a single KRaft node (broker,controller), got %q", kafka["KAFKA_PROCESS_ROLES"])
	}
	if !strings.HasPrefix(c.Services["kafka"].Image, "apache/kafka:") {
		t.Errorf("kafka: want the official apache/kafka image, got %q", c.Services["kafka"].Image)
	}
}

// ---------------------------------------------------------------- health checks and start order

func TestHealthChecks(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if slices.Contains(noPortServices, name) {
			continue
		}
		h := s.Healthcheck
		if h == nil || h.Disable || len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
			t.Errorf("%s: needs a health check (test: [CMD, ...] or [CMD-SHELL, ...]), got %+v", name, h)
			continue
		}
		for field, v := range map[string]string{"interval": h.Interval, "timeout": h.Timeout, "start_period": h.StartPeriod} {
			if _, err := time.ParseDuration(v); err != nil {
				t.Errorf("%s: healthcheck %s %q: %v", name, field, v, err)
			}
		}
		if h.Retries < 1 {
			t.Errorf("%s: healthcheck retries must be set", name)
		}
	}
	probe := strings.Join(c.Services["kafka"].Healthcheck.Test, " ")
	if !strings.Contains(probe, "/opt/kafka/bin/kafka-") {
		t.Errorf("kafka: the health check should use Kafka's own CLI, got %q", probe)
	}
	if probe := strings.Join(c.Services["redis"].Healthcheck.Test, " "); !strings.Contains(probe, "redis-cli") {
		t.Errorf("redis: the health check should use redis-cli, got %q", probe)
	}

	// The edge image is distroless: its probe is the healthcheck binary the Dockerfile installs.
	edgeProbe := c.Services["edge"].Healthcheck.Test
	if edgeProbe[0] != "CMD" {
		t.Fatalf("edge: distroless has no shell, the health check must be [CMD, ...], got %v", edgeProbe)
	}
	dockerfile := readFile(t, filepath.Join(repoRoot, c.Services["edge"].Build.Context, c.Services["edge"].Build.Dockerfile))
	if !regexp.MustCompile(`(?m)^COPY --from=\S+ \S+ ` + regexp.QuoteMeta(edgeProbe[1]) + `\s*$`).MatchString(dockerfile) {
		t.Errorf("edge: health check runs %s, which the Dockerfile does not install", edgeProbe[1])
	}
	if _, err := os.Stat("cmd/healthcheck/main.go"); err != nil {
		t.Errorf("the healthcheck command is missing: %v", err)
	}
}

func TestStartOrder(t *testing.T) {
	c := loadCompose(t)
	for _, name := range goServices {
		deps := c.Services[name].DependsOn
		for _, broker := range []string{"kafka", "redis"} {
			if deps[broker] != "service_healthy" {
				t.Errorf("%s must wait for %s to be healthy, got depends_on %v", name, broker, deps)
			}
		}
	}
	if got := c.Services["nginx"].DependsOn["edge"]; got != "service_healthy" {
		t.Errorf("nginx must wait for a healthy edge, got %q", got)
	}
	// Every dependency exists, a service_healthy one has a health check, and there is no cycle.
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(string, []string)
	visit = func(name string, path []string) {
		switch state[name] {
		case 1:
			t.Errorf("depends_on cycle: %s", strings.Join(append(path, name), " -> "))
			return
		case 2:
			return
		}
		state[name] = 1
		for dep, cond := range c.Services[name].DependsOn {
			ds, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %q", name, dep)
				continue
			}
			if cond == "service_healthy" && (ds.Healthcheck == nil || ds.Healthcheck.Disable) {
				t.Errorf("%s waits for %s to be healthy, but %s has no health check", name, dep, dep)
			}
			visit(dep, append(path, name))
		}
		state[name] = 2
	}
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		visit(n, nil)
	}
}

// ---------------------------------------------------------------- Dockerfiles

// workspaceModules lists the `use` directories of ../go.work.
func workspaceModules(t *testing.T) []string {
	t.Helper()
	var mods []string
	inUse := false
	for _, line := range strings.Split(readFile(t, filepath.Join(repoRoot, "go.work")), "\n") {
		line = strings.TrimSpace(strings.SplitN(line, "//", 2)[0])
		switch {
		case strings.HasPrefix(line, "use ("):
			inUse = true
		case inUse && line == ")":
			inUse = false
		case inUse && line != "":
			mods = append(mods, strings.TrimPrefix(filepath.Clean(line), "./"))
		case strings.HasPrefix(line, "use "):
			mods = append(mods, strings.TrimPrefix(filepath.Clean(strings.TrimSpace(strings.TrimPrefix(line, "use "))), "./"))
		}
	}
	if len(mods) == 0 {
		t.Fatal("go.work: no use directives found")
	}
	return mods
}

func TestDockerfiles(t *testing.T) {
	c := loadCompose(t)
	mods := workspaceModules(t)
	seen := map[string]bool{}
	for _, name := range goServices {
		b := c.Services[name].Build
		if b == nil {
			continue
		}
		if filepath.Clean(b.Context) != "." {
			t.Errorf("%s: the build context must be the repository root (go.work), got %q", name, b.Context)
		}
		if b.Args["SERVICE"] != name {
			t.Errorf("%s: build arg SERVICE=%q, want %q", name, b.Args["SERVICE"], name)
		}
		if _, err := os.Stat(filepath.Join(repoRoot, "services", b.Args["SERVICE"], "main.go")); err != nil {
			t.Errorf("%s: SERVICE=%q names no services/<name>/main.go", name, b.Args["SERVICE"])
		}
		path := filepath.Join(repoRoot, b.Context, b.Dockerfile)
		if seen[path] {
			continue
		}
		seen[path] = true
		df, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: Dockerfile: %v", name, err)
			continue
		}
		checkDockerfile(t, path, string(df), mods)
	}
	if len(seen) == 0 {
		t.Fatal("no Dockerfile referenced by the Go services")
	}
}

func checkDockerfile(t *testing.T, path, df string, mods []string) {
	t.Helper()
	// Every workspace module's go.mod is copied before `go mod download`, or the workspace does not load.
	for _, m := range append([]string{"."}, mods...) {
		dst := m + "/"
		files := m + "/go.mod"
		if m == "." {
			dst, files = "./", "go.work"
		}
		re := regexp.MustCompile(`(?m)^COPY\s+(\S+\s+)*` + regexp.QuoteMeta(files) + `\s+(\S+\s+)*` + regexp.QuoteMeta(dst) + `\s*$`)
		if !re.MatchString(df) {
			t.Errorf("%s: does not copy %s (go.work uses %q); add it before `go mod download`", path, files, m)
		}
	}
	var stages []string
	for _, m := range regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1) {
		stages = append(stages, m[1])
	}
	if len(stages) < 2 {
		t.Errorf("%s: want a multi-stage build, got stages %v", path, stages)
		return
	}
	final := stages[len(stages)-1]
	if !strings.Contains(final, "distroless") && !strings.Contains(final, "alpine") {
		t.Errorf("%s: final image %q is neither distroless nor alpine", path, final)
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df[strings.LastIndex(df, "\nFROM "):], -1)
	if len(users) == 0 {
		t.Errorf("%s: the final stage sets no USER", path)
	} else if u, _, _ := strings.Cut(users[len(users)-1][1], ":"); u == "root" || u == "0" {
		t.Errorf("%s: the final stage runs as root", path)
	}
	if !regexp.MustCompile(`(?m)^ENTRYPOINT\s+\[`).MatchString(df) {
		t.Errorf("%s: no exec-form ENTRYPOINT", path)
	}
	if !strings.Contains(df, "CGO_ENABLED=0") {
		t.Errorf("%s: a distroless/static image needs a static binary (CGO_ENABLED=0)", path)
	}
	ignore := path + ".dockerignore"
	if b, err := os.ReadFile(ignore); err != nil {
		t.Errorf("%s: %v (keep .run, bin and node_modules out of the build context)", path, err)
	} else {
		for _, p := range []string{".run", "bin", "node_modules"} {
			if !strings.Contains(string(b), p) {
				t.Errorf("%s: does not exclude %s", ignore, p)
			}
		}
	}
}

// ---------------------------------------------------------------- nginx

// directives returns the config text without comments.
func directives(conf string) string {
	return regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(conf, "")
}

// block returns the body of the first `<head> {` block (braces balanced).
func block(conf, head string) (string, bool) {
	i := strings.Index(conf, head)
	if i < 0 {
		return "", false
	}
	j := strings.Index(conf[i:], "{")
	if j < 0 {
		return "", false
	}
	start, depth := i+j+1, 1
	for k := start; k < len(conf); k++ {
		switch conf[k] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return conf[start:k], true
			}
		}
	}
	return "", false
}

func TestNginxConfig(t *testing.T) {
	c := loadCompose(t)
	ng := c.Services["nginx"]
	mounts := map[string]string{} // container path -> host path
	for _, v := range ng.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Fatalf("nginx: volume %q is not HOST:CONTAINER", v)
		}
		host := filepath.Join(repoRoot, parts[0])
		if _, err := os.Stat(host); err != nil {
			t.Errorf("nginx: mounted file %s: %v", parts[0], err)
		}
		mounts[parts[1]] = host
	}
	main, ok := mounts["/etc/nginx/conf.d/default.conf"]
	if !ok {
		t.Fatalf("nginx: nothing mounted as /etc/nginx/conf.d/default.conf: %v", ng.Volumes)
	}
	conf := directives(readFile(t, main))

	upstream, ok := block(conf, "upstream realtime")
	if !ok {
		t.Fatal("docker.conf: no `upstream realtime` block")
	}
	edgePort := c.Services["edge"].Environment["PORT"]
	if !regexp.MustCompile(`server\s+edge:` + edgePort + `\b`).MatchString(upstream) {
		t.Errorf("docker.conf: the upstream must name the compose service edge:%s (one A record per replica), got %q", edgePort, upstream)
	}
	if strings.Contains(upstream, "ip_hash") || strings.Contains(upstream, "sticky") || strings.Contains(upstream, "hash ") {
		t.Errorf("docker.conf: no sticky sessions by default (see the comment on ip_hash)")
	}
	if strings.Contains(upstream, " resolve") && !regexp.MustCompile(`(?m)^\s*resolver\s+127\.0\.0\.11\b`).MatchString(conf) {
		t.Errorf("docker.conf: `resolve` needs a resolver (Docker's DNS 127.0.0.11)")
	}
	if !strings.Contains(conf, "map $http_upgrade $connection_upgrade") {
		t.Errorf("docker.conf: no map for $connection_upgrade")
	}

	inc := regexp.MustCompile(`(?m)^\s*include\s+(\S+);`).FindStringSubmatch(conf)
	if inc == nil {
		t.Fatal("docker.conf: includes no locations file")
	}
	locFile, ok := mounts[inc[1]]
	if !ok {
		t.Fatalf("docker.conf includes %s, which is not mounted", inc[1])
	}
	checkLocations(t, locFile)
}

func checkLocations(t *testing.T, path string) {
	t.Helper()
	conf := directives(readFile(t, path))
	sio, ok := block(conf, "location /socket.io/")
	if !ok {
		t.Fatalf("%s: no `location /socket.io/`", path)
	}
	for _, want := range []string{
		`proxy_pass\s+http://realtime\s*;`,
		`proxy_http_version\s+1\.1\s*;`,
		`proxy_set_header\s+Upgrade\s+\$http_upgrade\s*;`,
		`proxy_set_header\s+Connection\s+(\$connection_upgrade|"upgrade")\s*;`,
		`proxy_set_header\s+Host\s+\$host\s*;`,
	} {
		if !regexp.MustCompile(want).MatchString(sio) {
			t.Errorf("%s: location /socket.io/ lacks /%s/", path, want)
		}
	}
	m := regexp.MustCompile(`proxy_read_timeout\s+(\d+)s\s*;`).FindStringSubmatch(sio)
	if m == nil {
		t.Errorf("%s: location /socket.io/ must set proxy_read_timeout (seconds) for long-polling", path)
	} else if n, _ := strconv.Atoi(m[1]); n < 60 {
		t.Errorf("%s: proxy_read_timeout %ss is shorter than a polling cycle plus the heartbeat (45 s)", path, m[1])
	}
	if _, ok := block(conf, "location = /health"); !ok {
		t.Errorf("%s: /health is not proxied", path)
	}
}

// ---------------------------------------------------------------- nginx -t

func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	t.Skip("nginx is not installed (deployments/nginx/install.sh installs it)")
	return ""
}

// The local stack's config, generated by stack.sh exactly as `make up` does, passes `nginx -t`.
func TestLocalNginxConfigPassesNginxT(t *testing.T) {
	nginxBinary(t)
	runDir := t.TempDir()
	cmd := exec.Command("bash", "stack.sh", "nginx-config")
	cmd.Env = append(os.Environ(), "RUN_DIR="+runDir, "EDGE_PORTS=14101,14102", "NGINX_PORT=14100")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stack.sh nginx-config: %v\n%s", err, out)
	}
	conf := readFile(t, filepath.Join(runDir, "nginx", "nginx.conf"))
	for _, want := range []string{"server 127.0.0.1:14101", "server 127.0.0.1:14102", "listen 127.0.0.1:14100", "realtime-locations.conf"} {
		if !strings.Contains(conf, want) {
			t.Errorf("generated nginx.conf lacks %q", want)
		}
	}
	if up, _ := block(directives(conf), "upstream realtime"); strings.Contains(up, "ip_hash") {
		t.Errorf("generated nginx.conf: no sticky sessions by default")
	}
}

// The compose config passes `nginx -t` too, once the parts only Docker can satisfy are replaced: the
// `edge` name (Docker's DNS) becomes 127.0.0.1, the include path the file in this repository, and on an
// nginx older than 1.27.3 the `resolve` parameter is dropped.
func TestComposeNginxConfigPassesNginxT(t *testing.T) {
	bin := nginxBinary(t)
	dir := t.TempDir()
	conf := readFile(t, "nginx/docker.conf")
	abs, err := filepath.Abs("nginx/realtime-locations.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf = strings.ReplaceAll(conf, "/etc/nginx/realtime-locations.conf", abs)
	conf = regexp.MustCompile(`server\s+edge:`).ReplaceAllString(conf, "server 127.0.0.1:")
	conf = regexp.MustCompile(`(?m)^(\s*listen\s+)(\d+);`).ReplaceAllString(conf, "${1}127.0.0.1:${2};")
	if out, _ := exec.Command(bin, "-v").CombinedOutput(); !nginxAtLeast(string(out), 1, 27, 3) {
		conf = regexp.MustCompile(`(server\s+\S+)\s+resolve\s*;`).ReplaceAllString(conf, "$1;")
	}
	mainConf := fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    access_log off;
    include %[1]s/default.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "default.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(mainConf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-t", "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("nginx -t on docker.conf: %v\n%s\n--- as tested:\n%s", err, out.String(), conf)
	}
}

func nginxAtLeast(version string, major, minor, patch int) bool {
	m := regexp.MustCompile(`nginx/(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(version)
	if m == nil {
		return false
	}
	v := [3]int{}
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	want := [3]int{major, minor, patch}
	for i := range v {
		if v[i] != want[i] {
			return v[i] > want[i]
		}
	}
	return true
}
