package controllers

import (
	"time"

	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"hacp.dev/hacp/internal/etcdprobe"
	"hacp.dev/hacp/test/etcdcluster"
)

func etcdClient(c *etcdcluster.Cluster) *clientv3.Client {
	tlsCfg, err := etcdprobe.TLSConfig(c.CA, c.ClientCert, c.ClientKey)
	Expect(err).NotTo(HaveOccurred())
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	Expect(err).NotTo(HaveOccurred())
	return cli
}
