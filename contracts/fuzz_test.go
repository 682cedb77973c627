package contracts

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzValidate: Validate never panics, and every rejection is a short
// *ValidationError (or ErrUnknownMessage for a name without a schema).
func FuzzValidate(f *testing.F) {
	r := mustLoad(f)
	_, files, err := newCompiler()
	if err != nil {
		f.Fatal(err)
	}
	for _, sf := range files {
		examples, _ := sf.doc["examples"].([]any)
		for _, ex := range examples {
			raw, _ := json.Marshal(ex)
			f.Add(raw)
		}
	}
	for _, s := range []string{``, `null`, `[]`, `{"videoId":`, `{"type":"video.like"}`, `{"type":{}}`,
		`{"id":"f","target":{"kind":"room"},"event":"video:viewers","data":null,"volatile":true}`,
		`{"videoId":"1","timestamp":1e400}`, `{"videoId":"\ud800"}`} {
		f.Add([]byte(s))
	}
	names := r.Names()
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, name := range names {
			err := r.Validate(name, payload)
			if err == nil {
				continue
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("%s: error %T %v", name, err, err)
			}
			// The message must itself be a valid error event payload.
			ev, _ := json.Marshal(map[string]string{"message": err.Error(), "event": "video:join"})
			if verr := r.Validate(ServerMessage(ServerError), ev); verr != nil {
				t.Fatalf("%s: error message %q is no valid error event: %v", name, err.Error(), verr)
			}
		}
		_ = r.ValidateClientEvent(string(payload), payload)
	})
}
