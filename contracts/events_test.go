package contracts

import (
	"strings"
	"testing"
)

func TestEdgeFanoutTopic(t *testing.T) {
	for _, tc := range []struct{ edge, want string }{
		{"edge-1", "realtime.fanout.edge.edge-1"},
		{"host-4242", "realtime.fanout.edge.host-4242"},
		{"a.b:c@d_e", "realtime.fanout.edge.a.b:c@d_e"},
	} {
		got := EdgeFanoutTopic(tc.edge)
		if got != tc.want {
			t.Errorf("EdgeFanoutTopic(%q) = %q, want %q", tc.edge, got, tc.want)
		}
		// An edge's stream must never be mistaken for the shared one.
		if got == TopicFanout || !strings.HasPrefix(got, TopicEdgeFanoutPrefix) {
			t.Errorf("EdgeFanoutTopic(%q) = %q is not under %q", tc.edge, got, TopicEdgeFanoutPrefix)
		}
	}
}

// Only a socket target that names its edge leaves the shared stream.
func TestFanoutTopic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target Target
		want   string
	}{
		{"socket on a known edge", Target{Kind: TargetSocket, SocketID: "s1", EdgeID: "edge-1"}, "realtime.fanout.edge.edge-1"},
		{"socket on another edge", Target{Kind: TargetSocket, SocketID: "s1", EdgeID: "edge-2"}, "realtime.fanout.edge.edge-2"},
		{"socket from an old producer (no edge)", Target{Kind: TargetSocket, SocketID: "s1"}, TopicFanout},
		{"room", Target{Kind: TargetRoom, Room: "video:1"}, TopicFanout},
		{"user", Target{Kind: TargetUser, UserID: "u1"}, TopicFanout},
		{"all", Target{Kind: TargetAll}, TopicFanout},
		// The schema forbids edgeId outside socket targets; a room spans
		// edges whatever the producer wrote.
		{"room with a stray edge", Target{Kind: TargetRoom, Room: "video:1", EdgeID: "edge-1"}, TopicFanout},
		{"user with a stray edge", Target{Kind: TargetUser, UserID: "u1", EdgeID: "edge-1"}, TopicFanout},
		{"unknown kind", Target{Kind: "galaxy", EdgeID: "edge-1"}, TopicFanout},
	} {
		if got := FanoutTopic(tc.target); got != tc.want {
			t.Errorf("%s: FanoutTopic(%+v) = %q, want %q", tc.name, tc.target, got, tc.want)
		}
	}
}
