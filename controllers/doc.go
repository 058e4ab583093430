// Package controllers holds the reconcilers of hacp's two kinds. Each reads the world, asks a pure
// package under internal/ for the desired state, applies it with server-side apply under one field
// owner, and writes status once.
package controllers
