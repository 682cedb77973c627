// Package contracts is the single source of truth for every message shape of
// the realtime service: Socket.IO client→server and server→client events,
// domain events on the realtime.* Kafka topics, platform events on
// platform.events, and fan-out messages on the realtime.fanout Redis Stream
// (and on the edges' own realtime.fanout.edge.<edgeId> streams).
//
// The shapes themselves live in asyncapi.yaml and schemas/ (JSON Schema draft
// 2020-12), embedded into this package. Go code validates payloads against
// them through a Registry; it never re-describes a shape by hand.
//
// Message names are "<kind>/<name>":
//
//	client/<event>     client/video:join, client/chat:message, ...
//	server/<event>     server/video:viewers, server/error, ...
//	domain/<type>      domain/chat.message_requested, domain/domain-event (any)
//	platform/<type>    platform/video.view, platform/platform-event (any)
//	fanout/message
package contracts
