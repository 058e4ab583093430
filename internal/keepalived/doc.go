// Package keepalived turns a VIPGroup and its members into one keepalived.conf per member.
//
// It is pure: no client, no clock, no randomness. The same input always gives the same bytes, so a
// node's config hash only changes when something that node runs changes.
//
// The priority plan (plan.go) is what makes the election safe: whenever at least one member passes
// its API server check, no failing member can win. Validate (validate.go) rejects every input
// keepalived would reject or silently misread; Lint (parse.go) re-checks rendered text the same way,
// so a config that reaches a node has passed both.
package keepalived
