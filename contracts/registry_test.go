package contracts

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustLoad(t testing.TB) *Registry {
	t.Helper()
	r, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

// Every schema file carries the metadata the contract promises, and every
// example in it is valid against it.
func TestSchemaFilesAndExamples(t *testing.T) {
	r := mustLoad(t)
	c, files, err := newCompiler()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no schema files embedded")
	}
	for _, f := range files {
		t.Run(f.rel, func(t *testing.T) {
			if got := f.doc["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %v, want draft 2020-12", got)
			}
			for _, key := range []string{"title", "description"} {
				if s, _ := f.doc[key].(string); strings.TrimSpace(s) == "" {
					t.Errorf("missing %s", key)
				}
			}
			examples, _ := f.doc["examples"].([]any)
			name, isMessage := messageName(f.rel)
			if isMessage && len(examples) == 0 {
				t.Fatalf("message schema has no examples")
			}
			sch, err := c.Compile(f.id)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			for i, ex := range examples {
				raw, err := json.Marshal(ex)
				if err != nil {
					t.Fatal(err)
				}
				if err := validate(sch, raw); err != nil {
					t.Errorf("example %d %s: %v", i, raw, err)
				}
				if isMessage {
					if err := r.Validate(name, raw); err != nil {
						t.Errorf("Validate(%q, example %d): %v", name, i, err)
					}
				}
			}
		})
	}
}

// The Go constants, the schema files and Names() describe the same set of
// messages: no constant without a schema, no schema without a constant.
func TestConstantsMatchSchemas(t *testing.T) {
	r := mustLoad(t)
	var want []string
	for _, e := range ClientEvents() {
		want = append(want, ClientMessage(e))
	}
	for _, e := range ServerEvents() {
		want = append(want, ServerMessage(e))
	}
	for _, e := range DomainEventTypes() {
		want = append(want, DomainMessage(e))
		if DomainEventTopic(e) == "" {
			t.Errorf("domain event %s has no topic", e)
		}
	}
	for _, e := range PlatformEventTypes() {
		want = append(want, PlatformMessage(e))
	}
	want = append(want, FanoutMessageName, DomainEventMessageName, PlatformEventMessageName)
	slices.Sort(want)
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v\nconstants = %v", got, want)
	}
	for _, n := range want {
		if !slices.Contains(r.Names(), n) {
			t.Errorf("constant message %q has no schema", n)
		}
	}
}

// One discriminated union per Kafka topic payload: its type enum lists exactly
// the Go constants.
func TestUnionsListEveryType(t *testing.T) {
	_, files, err := newCompiler()
	if err != nil {
		t.Fatal(err)
	}
	unions := map[string][]string{
		"domain/domain-event.json":     DomainEventTypes(),
		"platform/platform-event.json": PlatformEventTypes(),
		"defs/envelope.json":           DomainEventTypes(),
	}
	for _, f := range files {
		want, ok := unions[f.rel]
		if !ok {
			continue
		}
		props := f.doc["properties"].(map[string]any)
		var got []string
		for _, v := range props["type"].(map[string]any)["enum"].([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: type enum %v, want %v", f.rel, got, want)
		}
		delete(unions, f.rel)
	}
	if len(unions) > 0 {
		t.Errorf("missing union schemas: %v", unions)
	}
}

type invalidCase struct {
	name    string
	payload string
	want    string
}

func long(n int) string { return strings.Repeat("a", n) }

// Each client event rejects the usual mistakes with a message fit for an
// error event.
func TestClientEventsRejectInvalidPayloads(t *testing.T) {
	r := mustLoad(t)
	idEvent := func(field string) []invalidCase {
		return []invalidCase{
			{"missing field", `{}`, field + ": required"},
			{"wrong type", `{"` + field + `":123}`, field + ": expected string, got number"},
			{"null", `{"` + field + `":null}`, field + ": expected string, got null"},
			{"extra field", `{"` + field + `":"123","admin":true}`, "admin: unknown field"},
			{"too long", `{"` + field + `":"` + long(129) + `"}`, field + ": must be at most 128 characters, got 129"},
			{"empty", `{"` + field + `":""}`, field + ": must not be empty"},
			{"bad characters", `{"` + field + `":"1 2"}`, field + ": must match ^[A-Za-z0-9_.:@-]+$"},
			{"not an object", `"123"`, "expected object, got string"},
			{"array", `[{"` + field + `":"123"}]`, "expected object, got array"},
			{"not JSON", `{"` + field + `":`, "payload is not valid JSON"},
			{"trailing data", `{"` + field + `":"1"} {}`, "payload is not valid JSON"},
		}
	}
	cases := map[string][]invalidCase{
		ClientVideoJoin:  idEvent("videoId"),
		ClientVideoLeave: idEvent("videoId"),
		ClientVideoProgress: {
			{"missing field", `{"videoId":"123"}`, "timestamp: required"},
			{"missing both", `{}`, "timestamp: required (and 1 more)"},
			{"wrong type", `{"videoId":"123","timestamp":"45.5"}`, "timestamp: expected number, got string"},
			{"negative", `{"videoId":"123","timestamp":-1}`, "timestamp: must be >= 0"},
			{"extra field", `{"videoId":"123","timestamp":1,"x":1}`, "x: unknown field"},
			{"too long", `{"videoId":"` + long(200) + `","timestamp":1}`, "videoId: must be at most 128 characters, got 200"},
		},
		ClientChatJoin:  idEvent("videoId"),
		ClientChatLeave: idEvent("videoId"),
		ClientChatMessage: {
			{"missing field", `{"videoId":"123"}`, "message: required"},
			{"wrong type", `{"videoId":"123","message":42}`, "message: expected string, got number"},
			{"empty", `{"videoId":"123","message":""}`, "message: must not be empty"},
			{"too long", `{"videoId":"123","message":"` + long(2001) + `"}`, "message: must be at most 2000 characters, got 2001"},
			{"extra field", `{"videoId":"123","message":"hi","userId":"1"}`, "userId: unknown field"},
			{"videoId wrong type", `{"videoId":123,"message":"hi"}`, "videoId: expected string, got number"},
		},
		ClientChatTyping: {
			{"missing field", `{"videoId":"123"}`, "isTyping: required"},
			{"wrong type", `{"videoId":"123","isTyping":"yes"}`, "isTyping: expected boolean, got string"},
			{"extra field", `{"videoId":"123","isTyping":true,"x":1}`, "x: unknown field"},
			{"too long", `{"videoId":"` + long(129) + `","isTyping":true}`, "videoId: must be at most 128 characters, got 129"},
		},
		ClientNotificationsSubscribe:   idEvent("channelId"),
		ClientNotificationsUnsubscribe: idEvent("channelId"),
		ClientNotificationsRead:        idEvent("notificationId"),
	}
	for _, ev := range ClientEvents() {
		tcs, ok := cases[ev]
		if !ok {
			t.Errorf("no invalid-payload cases for client event %s", ev)
			continue
		}
		for _, tc := range tcs {
			t.Run(ev+"/"+tc.name, func(t *testing.T) {
				for _, validateFn := range []func() error{
					func() error { return r.Validate(ClientMessage(ev), []byte(tc.payload)) },
					func() error { return r.ValidateClientEvent(ev, []byte(tc.payload)) },
				} {
					err := validateFn()
					if err == nil {
						t.Fatalf("payload %s accepted", tc.payload)
					}
					var verr *ValidationError
					if !errors.As(err, &verr) {
						t.Fatalf("error %T %v is not a *ValidationError", err, err)
					}
					if err.Error() != tc.want {
						t.Errorf("error = %q, want %q", err.Error(), tc.want)
					}
				}
			})
		}
	}
}

func TestOtherMessagesRejectWithClearErrors(t *testing.T) {
	r := mustLoad(t)
	tcs := []struct{ name, payload, want string }{
		{"server/video:viewers", `{"videoId":"1","count":1.5}`, "count: expected integer, got number"},
		{"server/video:like", `{"videoId":"1","type":"video.love","timestamp":1}`, `type: must be one of "video.like", "video.dislike"`},
		{"server/chat:message", `{"id":"1","videoId":"1","userId":"1","message":"` + long(501) + `","timestamp":1}`, "message: must be at most 500 characters, got 501"},
		{"server/error", `{"event":"chat:message"}`, "message: required"},
		{"fanout/message", `{"id":"f","target":{"kind":"room","room":"video:1"},"event":"video:viewers","data":{"videoId":"1","count":"many"},"volatile":true}`,
			"data.count: expected integer, got string"},
		{"fanout/message", `{"id":"f","target":{"kind":"room"},"event":"video:viewers","data":{"videoId":"1","count":1},"volatile":true}`,
			"target.room: required"},
		{"fanout/message", `{"id":"f","target":{"kind":"room","room":"lobby"},"event":"video:viewers","data":{"videoId":"1","count":1},"volatile":true}`,
			"target.room: must match ^(video|chat|channel|user):[A-Za-z0-9_.:@-]{1,128}$"},
		{"fanout/message", `{"id":"f","target":{"kind":"all","userId":"1"},"event":"video:viewers","data":{"videoId":"1","count":1},"volatile":true}`,
			"target.userId: not allowed"},
		{"fanout/message", `{"id":"f","target":{"kind":"all"},"event":"video:nope","data":{},"volatile":true}`,
			`event: must be one of "video:viewers", "video:view", "video:like", "video:comment", "video:sync", "chat:message", "chat:user-count", "chat:typing", "notification", "notifications:read", "error"`},
		{"fanout/message", `{"id":"f","target":{"kind":"all"},"event":"error","data":{"message":"x"}}`, "volatile: required"},
		{"fanout/message", `{"id":"f","target":{"kind":"room","room":"video:1","edgeId":"edge-1"},"event":"video:viewers","data":{"videoId":"1","count":1},"volatile":true}`,
			"target.edgeId: not allowed"},
		{"fanout/message", `{"id":"f","target":{"kind":"user","userId":"u","edgeId":"edge-1"},"event":"video:sync","data":{"videoId":"1","timestamp":1},"volatile":false}`,
			"target.edgeId: not allowed"},
		{"fanout/message", `{"id":"f","target":{"kind":"all","edgeId":"edge-1"},"event":"video:view","data":{"videoId":"1","timestamp":1},"volatile":true}`,
			"target.edgeId: not allowed"},
		{"fanout/message", `{"id":"f","target":{"kind":"socket","socketId":"s","edgeId":"edge 1"},"event":"error","data":{"message":"x"},"volatile":false}`,
			"target.edgeId: must match ^[A-Za-z0-9_.:@-]+$"},
		{"fanout/message", `{"id":"f","target":{"kind":"socket","socketId":"s","edgeId":""},"event":"error","data":{"message":"x"},"volatile":false}`,
			"target.edgeId: must not be empty"},
		{PlatformEventMessageName, `{"type":"video.like","videoId":"1","timestamp":1}`, "userId: required"},
		{PlatformEventMessageName, `{"type":"video.like","videoId":1,"userId":"2","timestamp":1}`, "videoId: expected string, got number"},
		{PlatformEventMessageName, `{"videoId":"1"}`, "type: required"},
		{PlatformEventMessageName, `{"type":"video.share","videoId":"1"}`,
			`type: must be one of "video.view", "video.like", "video.dislike", "comment.created", "notification.created", "channel.video_published"`},
		{PlatformEventMessageName, `{"type":"notification.created","userId":"1","notification":{"id":"1","type":"new_video","title":"","message":"","timestamp":1}}`,
			"notification.title: must not be empty"},
		{DomainEventMessageName, `{"id":"e","type":"video.joined","occurredAt":1,"edgeId":"edge-1","socketId":"s","anonymous":false,"videoId":"1"}`, "userId: required"},
		{DomainEventMessageName, `{"id":"e","type":"video.joined","occurredAt":1,"edgeId":"edge-1","socketId":"s","anonymous":true,"userId":"u","videoId":"1"}`, "userId: not allowed"},
		{"domain/video.progress", `{"id":"e","type":"video.progress","occurredAt":1,"edgeId":"edge-1","socketId":"s","anonymous":true,"videoId":"1","position":3}`,
			"anonymous: must be false (and 1 more)"},
		{"domain/edge.heartbeat", `{"id":"e","type":"edge.heartbeat","occurredAt":1,"edgeId":"edge-1","ttlMs":0}`, "ttlMs: must be >= 1"},
		{"domain/edge.heartbeat", `{"id":"e","type":"edge.heartbeat","occurredAt":1,"edgeId":"edge-1","ttlMs":10,"socketId":"s"}`, "socketId: unknown field"},
		{"domain/chat.message_requested", `{"id":"e","type":"chat.typing","occurredAt":1,"edgeId":"edge-1","socketId":"s","anonymous":true,"videoId":"1","message":"hi"}`,
			`type: must be "chat.message_requested"`},
	}
	for _, tc := range tcs {
		err := r.Validate(tc.name, []byte(tc.payload))
		if err == nil {
			t.Errorf("%s: payload %s accepted", tc.name, tc.payload)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s %s:\n got  %q\n want %q", tc.name, tc.payload, err.Error(), tc.want)
		}
	}
}

func TestPlatformEventsTolerateUnknownFields(t *testing.T) {
	r := mustLoad(t)
	ev := `{"type":"video.view","videoId":"1","timestamp":1,"region":"eu"}`
	if err := r.Validate(PlatformEventMessageName, []byte(ev)); err != nil {
		t.Errorf("platform event with an extra field rejected: %v", err)
	}
}

func TestUnknownMessage(t *testing.T) {
	r := mustLoad(t)
	for _, err := range []error{
		r.Validate("client/video:dance", []byte(`{}`)),
		r.ValidateClientEvent("video:dance", []byte(`{}`)),
		r.Validate("video:join", []byte(`{}`)),
	} {
		if !errors.Is(err, ErrUnknownMessage) {
			t.Errorf("error %v, want ErrUnknownMessage", err)
		}
	}
}

// Field names chosen by the client are quoted and cut short before they are
// echoed back.
func TestHostileFieldNamesAreQuoted(t *testing.T) {
	r := mustLoad(t)
	err := r.ValidateClientEvent(ClientVideoJoin, []byte(`{"videoId":"1","<script>`+long(100)+`":1}`))
	want := `"<script>` + long(24) + `…": unknown field`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestLoadIsShared(t *testing.T) {
	a, b := mustLoad(t), mustLoad(t)
	if a != b {
		t.Error("Load compiled the schemas twice")
	}
	names := a.Names()
	names[0] = "mutated"
	if a.Names()[0] == "mutated" {
		t.Error("Names exposes the registry's slice")
	}
}

func BenchmarkValidateClientEvent(b *testing.B) {
	r := mustLoad(b)
	payload := []byte(`{"videoId":"123","message":"Hello!"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ValidateClientEvent(ClientChatMessage, payload); err != nil {
			b.Fatal(err)
		}
	}
}
