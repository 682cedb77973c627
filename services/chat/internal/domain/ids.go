package domain

import "github.com/google/uuid"

// Kinds of derived ids. Each output of the worker has its own kind, so two
// outputs of one event never share an id.
const (
	KindChatMessage       = "chat.message"        // the chat message's own id, seen by clients
	KindFanoutChatMessage = "fanout.chat.message" // the fan-out message carrying it
	KindFanoutChatTyping  = "fanout.chat.typing"
	KindFanoutError       = "fanout.error"
)

// idNamespace is the UUIDv5 namespace of the chat worker's derived ids.
var idNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://realtime.example/services/chat"))

// DeriveID returns the id of the output of kind produced for the domain
// event eventID: a name-based UUID (v5), the same every time. A redelivered
// or retried event therefore republishes the same ids, and the edges'
// dedupe by fan-out id drops the copy; clients never see one message under
// two ids.
func DeriveID(kind, eventID string) string {
	return uuid.NewSHA1(idNamespace, []byte(kind+"\x00"+eventID)).String()
}
