// Package quorum answers the seed's closing questions for any control plane: how many etcd
// voters there are, how many are healthy, how many more may fail, and, for sets of failing
// nodes, what each set would break (etcd quorum, the VIP, the API). It is pure: members in,
// answers out.
package quorum
