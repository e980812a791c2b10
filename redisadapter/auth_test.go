package redisadapter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

func countServers(t *testing.T, g *goNode) int {
	t.Helper()
	n, err := g.cluster.serverCount(context.Background(), "socket.io-request#/#")
	if err != nil {
		return -1
	}
	return n
}

// A Redis 6 ACL user and a password; a wrong password is an outage, logged
// once, and the server still serves its own clients.
func TestUsernameAndPassword(t *testing.T) {
	r := &redisServer{t: t, bin: testpeer.RedisServer(t), port: freePort(t),
		extra: []string{"--user", "app", "on", ">apppass", "~*", "&*", "+@all", "--user", "default", "off"}}
	r.Start()
	t.Cleanup(r.Kill)

	good := startGoNodeWith(t, Config{}, "redis://app:apppass@"+r.Addr(), "/")
	waitFor(t, "subscribed with the ACL user", func() bool { return countServers(t, good) == 1 })

	core, logs := observer.New(zap.WarnLevel)
	bad := startGoNodeWith(t, Config{Logger: zap.New(core)}, "redis://app:wrong@"+r.Addr(), "/")
	waitFor(t, "the refusal logged", func() bool { return logs.FilterMessageSnippet("Redis unreachable").Len() == 1 })
	if err := bad.io.Of("/").Emit("local"); err != nil {
		t.Errorf("emit with Redis refusing us: %v", err)
	}
	if n := countServers(t, good); n != 1 {
		t.Errorf("%d servers subscribed; the one with the wrong password must not be", n)
	}
}

// rediss:// (or tls) connects with TLS.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := makeCert(t, nil, nil, "test CA")
	srvCert, srvKey := makeCert(t, caCert, caKey, "127.0.0.1")
	write := func(name string, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	port := freePort(t)
	r := &redisServer{t: t, bin: testpeer.RedisServer(t), port: port, tls: &tls.Config{RootCAs: roots},
		extra: []string{"--port", "0", "--tls-port", strconv.Itoa(port), "--tls-auth-clients", "no",
			"--tls-cert-file", write("server.pem", "CERTIFICATE", srvCert.Raw),
			"--tls-key-file", write("server.key", "EC PRIVATE KEY", keyDER),
			"--tls-ca-cert-file", write("ca.pem", "CERTIFICATE", caCert.Raw)}}
	r.Start()
	t.Cleanup(r.Kill)

	cc := ClientConfig{Addresses: []string{"rediss://" + r.Addr()}, TLSConfig: &tls.Config{RootCAs: roots}}
	client, err := cc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING over TLS: %v", err)
	}
	// The same server without a trusted CA: refused.
	untrusted := ClientConfig{Addresses: []string{r.Addr()}, TLS: true}
	uc, _ := untrusted.NewClient()
	defer uc.Close()
	if err := uc.Ping(context.Background()).Err(); err == nil {
		t.Error("a certificate from an unknown CA was accepted")
	}
}

func makeCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP(name)}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
