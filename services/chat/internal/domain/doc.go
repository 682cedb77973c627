// Package domain holds the chat rules, free of I/O: how a message is cleaned
// and checked, how many messages a user may post, and how the ids of what
// the worker publishes are derived from the event that caused it.
package domain
