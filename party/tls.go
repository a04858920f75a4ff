package party

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Certificate common names: the role a certificate is for. Party 1's Peer
// service accepts only PartyName(0); the client checks that the server at
// each address is the party it expects.
const ClientName = "hssee-client"

// DealerName is the common name of the dealer service's certificate
// (cmd/dealer): a party accepts material only from a server presenting it.
const DealerName = "hssee-dealer"

// PartyName is the common name of party id's certificate.
func PartyName(id int) string { return fmt.Sprintf("hssee-party%d", id) }

// PKI is a test deployment's certificate authority and leaf certificates,
// PEM encoded. Keys are ECDSA P-256; certificates are valid for a year.
type PKI struct {
	CA      []byte
	Certs   map[string][]byte // file base name ("party0", "party1", "client") -> certificate PEM
	Keys    map[string][]byte // same names -> private key PEM (PKCS#8)
	caCert  *x509.Certificate
	caKey   *ecdsa.PrivateKey
	hosts   []string
	expires time.Time
}

// DefaultHosts are the names party certificates are valid for when none are
// given: loopback.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// NewPKI makes a fresh CA and certificates for party 0, party 1 and the
// dealer service (server and client use, valid for hosts: DNS names or IP
// addresses) and for the client (client use).
func NewPKI(hosts []string) (*PKI, error) {
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	p := &PKI{Certs: map[string][]byte{}, Keys: map[string][]byte{}, caKey: caKey, hosts: hosts,
		expires: now.Add(365 * 24 * time.Hour)}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "hssee test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: p.expires,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("party: pki: %w", err)
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	p.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, leaf := range []struct {
		file, cn string
		server   bool
	}{{"party0", PartyName(0), true}, {"party1", PartyName(1), true}, {"dealer", DealerName, true}, {"client", ClientName, false}} {
		if err := p.leaf(leaf.file, leaf.cn, leaf.server); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// AddClient issues a further client certificate (common name
// hssee-client, client use) under the file base name file, for tests and
// deployments with several clients: each certificate is its own identity
// for session binding and per-client limits.
func (p *PKI) AddClient(file string) error {
	if p.caKey == nil {
		return errors.New("party: pki: the CA's key is not held")
	}
	if _, ok := p.Certs[file]; ok {
		return fmt.Errorf("party: pki: %s exists", file)
	}
	return p.leaf(file, ClientName, false)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func (p *PKI) leaf(file, cn string, server bool) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: p.expires,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		for _, h := range p.hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return fmt.Errorf("party: pki: %s: %w", file, err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	p.Certs[file] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	p.Keys[file] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	return nil
}

// Files lists the files WriteFiles writes.
var Files = []string{"ca.pem", "party0.pem", "party0-key.pem", "party1.pem", "party1-key.pem", "dealer.pem", "dealer-key.pem",
	"client.pem", "client-key.pem"}

// WriteFiles writes ca.pem, NAME.pem and NAME-key.pem (mode 0600) for
// party0, party1, dealer and client into dir (created if needed). The CA's
// private key is not written: the deployment cannot be extended later.
func (p *PKI) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), p.CA, 0o644); err != nil {
		return err
	}
	for _, name := range []string{"party0", "party1", "dealer", "client"} {
		if err := os.WriteFile(filepath.Join(dir, name+".pem"), p.Certs[name], 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-key.pem"), p.Keys[name], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Credentials hold one endpoint's certificate and the CA it trusts.
type Credentials struct {
	Cert tls.Certificate
	Pool *x509.CertPool
	Name string // the certificate's common name
}

// NewCredentials parses PEM certificate, key and CA.
func NewCredentials(certPEM, keyPEM, caPEM []byte) (*Credentials, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("party: tls: certificate and key: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("party: tls: no CA certificate in the CA file")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("party: tls: %w", err)
	}
	return &Credentials{Cert: c, Pool: pool, Name: leaf.Subject.CommonName}, nil
}

// LoadCredentials reads PEM files.
func LoadCredentials(certFile, keyFile, caFile string) (*Credentials, error) {
	var bs [3][]byte
	for i, f := range []string{certFile, keyFile, caFile} {
		if f == "" {
			return nil, errors.New("party: tls: certificate, key and CA files are all required")
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("party: tls: %w", err)
		}
		bs[i] = b
	}
	return NewCredentials(bs[0], bs[1], bs[2])
}

// Credentials returns the credentials of name ("party0", "party1",
// "dealer", "client") from p.
func (p *PKI) Credentials(name string) (*Credentials, error) {
	return NewCredentials(p.Certs[name], p.Keys[name], p.CA)
}

// ServerConfig requires and verifies a client certificate from the CA.
func (c *Credentials) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Cert}, ClientCAs: c.Pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13}
}

// ClientConfig presents c's certificate and verifies that the server's is
// from the CA and has common name want (any name when want is "").
func (c *Credentials) ClientConfig(want string) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Cert}, RootCAs: c.Pool, MinVersion: tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if want == "" || len(cs.PeerCertificates) == 0 {
				return nil
			}
			if got := cs.PeerCertificates[0].Subject.CommonName; got != want {
				return fmt.Errorf("party: tls: server certificate is %q's, want %q's", got, want)
			}
			return nil
		}}
}
