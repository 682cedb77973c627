package contracts

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func loadAsyncAPI(t *testing.T) map[string]any {
	t.Helper()
	raw, err := fs.ReadFile(FS(), "asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	return doc
}

// refs returns every "$ref" value in v, with the place it was found.
func refs(v any, at string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if s, ok := c.(string); ok && k == "$ref" {
				out[at] = s
				continue
			}
			refs(c, at+"/"+k, out)
		}
	case []any:
		for i, c := range v {
			refs(c, at+"/"+strconv.Itoa(i), out)
		}
	}
}

// pointer resolves a JSON pointer ("/a/b") inside doc.
func pointer(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func readJSON(t *testing.T, p string) (any, bool) {
	raw, err := fs.ReadFile(FS(), p)
	if err != nil {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return v, true
}

// Every $ref in asyncapi.yaml resolves, and every schema file is referenced
// from it.
func TestAsyncAPIRefs(t *testing.T) {
	doc := loadAsyncAPI(t)
	if doc["asyncapi"] != "3.0.0" {
		t.Fatalf("asyncapi = %v, want 3.0.0", doc["asyncapi"])
	}
	all := map[string]string{}
	refs(doc, "", all)
	if len(all) == 0 {
		t.Fatal("no $ref found")
	}
	referenced := map[string]bool{}
	for at, ref := range all {
		file, frag, _ := strings.Cut(ref, "#")
		if file == "" {
			if _, ok := pointer(doc, frag); !ok {
				t.Errorf("%s: $ref %q does not resolve", at, ref)
			}
			continue
		}
		p := path.Clean(file)
		target, ok := readJSON(t, p)
		if !ok {
			t.Errorf("%s: $ref %q: no file %s", at, ref, p)
			continue
		}
		if _, ok := pointer(target, frag); !ok {
			t.Errorf("%s: $ref %q: fragment does not resolve", at, ref)
		}
		referenced[p] = true
	}
	err := fs.WalkDir(FS(), "schemas", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !referenced[p] {
			t.Errorf("schema file %s is not referenced from asyncapi.yaml", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The $refs between schema files resolve too (the compiler checks this as
// well; this names the file).
func TestSchemaRefs(t *testing.T) {
	_, files, err := newCompiler()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		all := map[string]string{}
		refs(f.doc, "", all)
		for at, ref := range all {
			file, frag, _ := strings.Cut(ref, "#")
			target := any(f.doc)
			if file != "" {
				p := path.Join("schemas", path.Dir(f.rel), file)
				var ok bool
				if target, ok = readJSON(t, p); !ok {
					t.Errorf("%s%s: $ref %q: no file %s", f.rel, at, ref, p)
					continue
				}
			}
			if _, ok := pointer(target, frag); !ok {
				t.Errorf("%s%s: $ref %q: fragment does not resolve", f.rel, at, ref)
			}
		}
	}
}

func channel(t *testing.T, doc map[string]any, key string) map[string]any {
	t.Helper()
	ch, ok := doc["channels"].(map[string]any)[key].(map[string]any)
	if !ok {
		t.Fatalf("no channel %s", key)
	}
	return ch
}

// channelMessages returns the names (Socket.IO event or event type) of the
// messages of a channel.
func channelMessages(t *testing.T, doc map[string]any, ch map[string]any) []string {
	t.Helper()
	var names []string
	for k, m := range ch["messages"].(map[string]any) {
		ref := m.(map[string]any)["$ref"].(string)
		msg, ok := pointer(doc, strings.TrimPrefix(ref, "#"))
		if !ok {
			t.Fatalf("message %s: bad $ref %s", k, ref)
		}
		names = append(names, msg.(map[string]any)["name"].(string))
	}
	slices.Sort(names)
	return names
}

func sorted(s ...[]string) []string {
	out := slices.Concat(s...)
	slices.Sort(out)
	return out
}

// The AsyncAPI channels carry exactly the messages that the Go constants
// name, on the topics that DomainEventTopic says, with a partition key.
func TestAsyncAPIChannels(t *testing.T) {
	doc := loadAsyncAPI(t)
	if got, want := channelMessages(t, doc, channel(t, doc, "socketio")), sorted(ClientEvents(), ServerEvents()); !slices.Equal(got, want) {
		t.Errorf("socketio messages %v, want %v", got, want)
	}
	byTopic := map[string][]string{}
	for _, e := range DomainEventTypes() {
		byTopic[DomainEventTopic(e)] = append(byTopic[DomainEventTopic(e)], e)
	}
	byTopic[TopicPlatformEvents] = PlatformEventTypes()
	// The Redis Streams: the shared one, and every edge's own, whose
	// channel address is the template that EdgeFanoutTopic fills in.
	edgeStreams := EdgeFanoutTopic("{edgeId}")
	streams := map[string]bool{TopicFanout: true, edgeStreams: true}
	for s := range streams {
		byTopic[s] = []string{"fanout"}
	}
	seen := map[string]bool{}
	for key, c := range doc["channels"].(map[string]any) {
		ch := c.(map[string]any)
		addr := ch["address"].(string)
		if key == "socketio" {
			continue
		}
		want, ok := byTopic[addr]
		if !ok {
			t.Errorf("channel %s: unknown topic %s", key, addr)
			continue
		}
		seen[addr] = true
		if got := channelMessages(t, doc, ch); !slices.Equal(got, sorted(want)) {
			t.Errorf("topic %s messages %v, want %v", addr, got, sorted(want))
		}
		if streams[addr] {
			if got := serverRefs(ch); !slices.Equal(got, []string{"#/servers/redis"}) {
				t.Errorf("Redis Stream %s on servers %v", addr, got)
			}
		} else if k, _ := ch["x-partition-key"].(string); k == "" {
			t.Errorf("Kafka topic %s has no x-partition-key", addr)
		}
		params, _ := ch["parameters"].(map[string]any)
		for _, p := range addressParams(addr) {
			if _, ok := params[p]; !ok {
				t.Errorf("channel %s: address parameter {%s} is not declared", key, p)
			}
		}
		if len(params) != len(addressParams(addr)) {
			t.Errorf("channel %s: parameters %v, address %s", key, params, addr)
		}
	}
	for topic := range byTopic {
		if !seen[topic] {
			t.Errorf("topic %s has no channel", topic)
		}
	}
}

// addressParams returns the names of the {parameters} of a channel address.
func addressParams(addr string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(addr, "{")
		if !ok {
			return out
		}
		name, after, ok := strings.Cut(rest, "}")
		if !ok {
			return out
		}
		out = append(out, name)
		addr = after
	}
}

func serverRefs(ch map[string]any) []string {
	var out []string
	servers, _ := ch["servers"].([]any)
	for _, s := range servers {
		if m, ok := s.(map[string]any); ok {
			ref, _ := m["$ref"].(string)
			out = append(out, ref)
		}
	}
	return out
}

// Every operation points at an existing channel and at messages of that
// channel; every channel has an operation.
func TestAsyncAPIOperations(t *testing.T) {
	doc := loadAsyncAPI(t)
	used := map[string]bool{}
	for name, o := range doc["operations"].(map[string]any) {
		op := o.(map[string]any)
		if a := op["action"]; a != "send" && a != "receive" {
			t.Errorf("operation %s: action %v", name, a)
		}
		chRef := op["channel"].(map[string]any)["$ref"].(string)
		used[chRef] = true
		for _, m := range op["messages"].([]any) {
			ref := m.(map[string]any)["$ref"].(string)
			if !strings.HasPrefix(ref, chRef+"/messages/") {
				t.Errorf("operation %s: message %s is not on channel %s", name, ref, chRef)
			}
		}
	}
	for key := range doc["channels"].(map[string]any) {
		if !used[fmt.Sprintf("#/channels/%s", key)] {
			t.Errorf("channel %s has no operation", key)
		}
	}
}
