package ports

import (
	"encoding/json"
	"errors"
	"testing"

	"realtime/pkg/auth"
)

func TestTokenFrom(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    string
		wantErr error
	}{
		{name: "absent", payload: ""},
		{name: "null", payload: "null"},
		{name: "empty object", payload: "{}"},
		{name: "token null", payload: `{"token":null}`},
		{name: "token empty", payload: `{"token":""}`},
		{name: "token", payload: `{"token":"abc.def.ghi"}`, want: "abc.def.ghi"},
		{name: "other fields ignored", payload: `{"user":"x","token":"t"}`, want: "t"},
		{name: "token not a string", payload: `{"token":42}`, wantErr: auth.ErrMalformed},
		{name: "array payload", payload: `["t"]`, wantErr: errAuthPayload},
		{name: "string payload", payload: `"t"`, wantErr: errAuthPayload},
		{name: "broken JSON", payload: `{"token":`, wantErr: errAuthPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tokenFrom(json.RawMessage(tt.payload))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("token = %q, want %q", got, tt.want)
			}
		})
	}
}
