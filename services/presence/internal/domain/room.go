// Package domain holds the presence rules with no I/O and no clock of its
// own: room membership and counts, edge leases, playback positions, and the
// coalescing of count broadcasts. Every time-dependent method takes the
// current time as an argument, so tests drive it with a fake clock.
package domain

import (
	"strings"

	"realtime/contracts"
)

// RoomKind is what a counted room counts.
type RoomKind int

const (
	// Viewers of a video: room video:<videoId>, event video:viewers.
	Viewers RoomKind = iota + 1
	// Chatters of a live chat: room chat:<videoId>, event chat:user-count.
	Chatters
)

// Room is a counted room: the viewers or the chatters of one video.
type Room struct {
	Kind    RoomKind
	VideoID string
}

// VideoRoom and ChatRoom name the two counted rooms of a video.
func VideoRoom(videoID string) Room { return Room{Kind: Viewers, VideoID: videoID} }
func ChatRoom(videoID string) Room  { return Room{Kind: Chatters, VideoID: videoID} }

// String is the room's name as the edges know it (video:<id>, chat:<id>).
func (r Room) String() string {
	if r.Kind == Chatters {
		return contracts.ChatRoom(r.VideoID)
	}
	return contracts.VideoRoom(r.VideoID)
}

// CountEvent is the server→client event that carries the room's count.
func (r Room) CountEvent() string {
	if r.Kind == Chatters {
		return contracts.ServerChatUserCount
	}
	return contracts.ServerVideoViewers
}

// ParseRoom is the inverse of Room.String for counted rooms.
func ParseRoom(name string) (Room, bool) {
	if id, ok := strings.CutPrefix(name, contracts.VideoRoom("")); ok && id != "" {
		return VideoRoom(id), true
	}
	if id, ok := strings.CutPrefix(name, contracts.ChatRoom("")); ok && id != "" {
		return ChatRoom(id), true
	}
	return Room{}, false
}

// RoomCount is a room's member count after a change.
type RoomCount struct {
	Room  string
	Count int
}
