package keepalived

import "crypto/rand"

// passwordAlphabet has no characters keepalived would read differently and none that look alike.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns an 8-character VRRPv2 password (keepalived truncates longer ones),
// uniformly drawn from passwordAlphabet.
func GeneratePassword() string {
	out := make([]byte, 0, 8)
	buf := make([]byte, 16)
	// Rejection sampling: bytes at or above the largest multiple of the alphabet size would bias
	// the first characters.
	limit := byte(256 - 256%len(passwordAlphabet))
	for len(out) < 8 {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		for _, b := range buf {
			if b < limit && len(out) < 8 {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}
