package joinmaterial

import (
	"time"
)

// Spec is the rotation policy.
type Spec struct {
	TokenTTL     time.Duration
	RotateBefore time.Duration
	// UploadCerts keeps a certificate key and kubeadm-certs valid.
	UploadCerts bool
	CertKeyTTL  time.Duration
}

// CertState is the uploaded certificates hacp knows of.
type CertState struct {
	Key     string
	Expires time.Time
}

// State is the join material that exists now: hacp's tokens (never anyone else's) and the
// certificate upload, if any.
type State struct {
	Tokens []Token
	Certs  *CertState
	// Published is the ID of the token the join Secret names now ("" if none).
	Published string
}

// Plan is what to do now, in this order: retire, mint, upload, publish, delete. Each step but
// the upload leaves a valid published command behind, so a crash between them is harmless; the
// upload re-encrypts kubeadm-certs under a key the next step publishes, and a manager that dies
// between the two leaves that to the next (the published key no longer opens kubeadm-certs, so
// it is not trusted, and a new upload under a new key follows at once).
type Plan struct {
	// Retire are live tokens to remove before minting, so that never more than two live:
	// superseded ones the join Secret no longer names.
	Retire []string
	// Mint asks for a new token expiring at MintExpires.
	Mint        bool
	MintExpires time.Time
	// Upload asks for fresh certificates under a new key, expiring at UploadExpires.
	Upload        bool
	UploadExpires time.Time
	// Publish is the token to put in the join Secret (the newest live one; after Mint, the new one).
	Publish *Token
	// Delete are token IDs to remove after publishing: expired ones, and live ones beyond the
	// newest two that the join Secret still named.
	Delete []string
	// Next is when to decide again.
	Next time.Time
}

// CertLead is how long before expiry certificates are re-uploaded.
func (s Spec) CertLead() time.Duration {
	return min(s.RotateBefore, s.CertKeyTTL/2)
}

// Decide is the rotation policy as a pure function of (state, now, spec).
func Decide(st State, now time.Time, spec Spec) Plan {
	var p Plan
	var live []Token
	for _, t := range st.Tokens {
		if t.Expires.After(now) {
			live = append(live, t)
		} else {
			p.Delete = append(p.Delete, t.ID)
		}
	}
	SortTokens(live)
	// drop removes the oldest live token: before minting if the join Secret no longer names it,
	// else only once the new one is published.
	drop := func() {
		old := live[len(live)-1]
		if old.ID == st.Published {
			p.Delete = append(p.Delete, old.ID)
		} else {
			p.Retire = append(p.Retire, old.ID)
		}
		live = live[:len(live)-1]
	}
	// Never more than two: the newest and its predecessor, which may still be in use by a join
	// that started before rotation.
	for len(live) > 2 {
		drop()
	}
	if len(live) == 0 || !live[0].Expires.After(now.Add(spec.RotateBefore)) {
		p.Mint = true
		p.MintExpires = now.Add(spec.TokenTTL).UTC().Truncate(time.Second)
		// Minting would make a third live token if two already are: the older goes first
		// (found by the soak, which saw three live tokens between a mint and its delete).
		if len(live) == 2 {
			drop()
		}
	} else {
		newest := live[0]
		p.Publish = &newest
	}
	if spec.UploadCerts && (st.Certs == nil || !st.Certs.Expires.After(now.Add(spec.CertLead()))) {
		p.Upload = true
		p.UploadExpires = now.Add(spec.CertKeyTTL).UTC().Truncate(time.Second)
	}

	// Next decision: when the published token enters its rotation window, when an old token
	// expires (to delete it), when the certificates need re-uploading.
	var next []time.Time
	if p.Mint {
		next = append(next, p.MintExpires.Add(-spec.RotateBefore))
	} else {
		next = append(next, live[0].Expires.Add(-spec.RotateBefore))
	}
	if len(live) > 1 {
		for _, t := range live[1:] {
			next = append(next, t.Expires)
		}
	}
	if spec.UploadCerts {
		exp := p.UploadExpires
		if !p.Upload {
			exp = st.Certs.Expires
		}
		next = append(next, exp.Add(-spec.CertLead()))
	}
	p.Next = next[0]
	for _, t := range next[1:] {
		if t.Before(p.Next) {
			p.Next = t
		}
	}
	if !p.Next.After(now) {
		p.Next = now.Add(time.Second)
	}
	return p
}
