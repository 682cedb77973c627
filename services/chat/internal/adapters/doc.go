// Package adapters carries out what the chat worker decided, and keeps its
// state: fanout publishes to realtime.fanout (a refusal to the stream of
// the refused socket's edge); memory (one instance,
// embedded mode) and redisstore (any number of instances) implement the
// stores. The tests here run the same store behaviour tests against both.
package adapters
