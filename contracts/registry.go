package contracts

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed asyncapi.yaml schemas
var files embed.FS

// SchemaBaseURL is the base of every schema's $id: the schema file
// schemas/<p> has $id SchemaBaseURL+<p>. The host is reserved (.example) and
// never fetched: all schemas are embedded.
const SchemaBaseURL = "https://realtime.example/contracts/schemas/"

// FS returns the embedded contract files: asyncapi.yaml and schemas/**.json.
func FS() fs.FS { return files }

// ErrUnknownMessage is returned (wrapped) by Validate for a name that has no
// schema.
var ErrUnknownMessage = errors.New("unknown message")

// Registry holds every message schema, compiled once. It is immutable and
// safe for concurrent use.
type Registry struct {
	byName map[string]*jsonschema.Schema
	client map[string]*jsonschema.Schema // keyed by bare client event name
	names  []string
}

var loadOnce = sync.OnceValues(load)

// Load compiles every embedded schema. The work is done once per process;
// later calls return the same Registry.
func Load() (*Registry, error) { return loadOnce() }

func load() (*Registry, error) {
	c, files, err := newCompiler()
	if err != nil {
		return nil, err
	}
	r := &Registry{
		byName: make(map[string]*jsonschema.Schema, len(files)),
		client: make(map[string]*jsonschema.Schema),
	}
	for _, f := range files {
		name, ok := messageName(f.rel)
		if !ok {
			continue
		}
		sch, err := c.Compile(f.id)
		if err != nil {
			return nil, fmt.Errorf("contracts: compile %s: %w", name, err)
		}
		r.byName[name] = sch
		r.names = append(r.names, name)
		if ev, ok := strings.CutPrefix(name, "client/"); ok {
			r.client[ev] = sch
		}
	}
	slices.Sort(r.names)
	return r, nil
}

// schemaFile is one embedded schema: its path under schemas/, its $id and
// its decoded document.
type schemaFile struct {
	rel, id string
	doc     map[string]any
}

// newCompiler returns a compiler that knows every embedded schema by its $id
// (so $refs never leave the binary), and the schema files.
func newCompiler() (*jsonschema.Compiler, []schemaFile, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	var out []schemaFile
	err := fs.WalkDir(files, "schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".json" {
			return nil
		}
		rel := strings.TrimPrefix(p, "schemas/")
		raw, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("contracts: %s: %w", p, err)
		}
		obj, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("contracts: %s: not a JSON object", p)
		}
		id, _ := obj["$id"].(string)
		if id != SchemaBaseURL+rel {
			return fmt.Errorf("contracts: %s: $id is %q, want %q", p, id, SchemaBaseURL+rel)
		}
		if err := c.AddResource(id, doc); err != nil {
			return fmt.Errorf("contracts: %s: %w", p, err)
		}
		out = append(out, schemaFile{rel: rel, id: id, doc: obj})
		return nil
	})
	return c, out, err
}

// messageName maps a schema file (relative to schemas/) to its message name.
// Socket.IO event names contain ':', which is not safe in file names or in
// relative $refs, so client/ and server/ files spell the first ':' as '-'
// (video:join -> client/video-join.json). Files under defs/ are shared
// building blocks, not messages.
func messageName(rel string) (string, bool) {
	dir, file := path.Split(rel)
	base := strings.TrimSuffix(file, ".json")
	switch dir {
	case "client/", "server/":
		return dir + strings.Replace(base, "-", ":", 1), true
	case "domain/", "platform/", "fanout/":
		return dir + base, true
	}
	return "", false
}

// Names returns every message name that Validate accepts, sorted.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// Validate checks a JSON payload against the schema of message name (for
// example "client/video:join" or "domain/chat.message_requested").
//
// A payload that breaks the contract yields a *ValidationError whose Error()
// is short and safe to send to a client, e.g. "videoId: expected string, got
// number". A name without a schema yields an error wrapping
// ErrUnknownMessage.
func (r *Registry) Validate(name string, payload []byte) error {
	sch, ok := r.byName[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownMessage, name)
	}
	return validate(sch, payload)
}

// ValidateClientEvent is Validate("client/"+event, payload) without building
// the name: the edge calls it for every incoming Socket.IO event.
func (r *Registry) ValidateClientEvent(event string, payload []byte) error {
	sch, ok := r.client[event]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownMessage, event)
	}
	return validate(sch, payload)
}

func validate(sch *jsonschema.Schema, payload []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return &ValidationError{Reason: "payload is not valid JSON"}
	}
	if err := sch.Validate(v); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			return newValidationError(verr)
		}
		return &ValidationError{Reason: "payload is invalid"}
	}
	return nil
}
