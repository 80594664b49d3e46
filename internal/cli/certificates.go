package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"meridian/api"
)

func sslCertificateType() *resourceType {
	return &resourceType{
		collection: "sslCertificates", noun: "SSL certificate", plural: "SSL certificates", regional: true, globalByDefault: true,
		listFormat: "table(name, type, creationTimestamp, expireTime, region.basename(), managed.status:label=MANAGED_STATUS)",
	}
}

// sslCertificatesCommand is `compute ssl-certificates`.
func (a *app) sslCertificatesCommand() *cobra.Command {
	rt := sslCertificateType()
	return a.group("ssl-certificates", "List, create, and delete SSL certificates.",
		a.sslCertificateCreateCommand(rt),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
	)
}

func (a *app) sslCertificateCreateCommand(rt *resourceType) *cobra.Command {
	var certFile, keyFile, description *optional[string]
	var domains *listValue
	cmd := a.resourceCommand(rt, "create", "Create an SSL certificate: self-managed from PEM files, or managed for domains.", "create", func(s *session, t target) error {
		cert := api.SslCertificate{Meta: api.Meta{Name: t.name}}
		description.apply(&cert.Description)
		switch {
		case domains.set && (certFile.set || keyFile.set):
			return errors.New("argument --domains: At most one of --certificate | --domains may be specified.")
		case domains.set:
			cert.Type = api.CertManaged
			cert.Managed = &api.ManagedSslCert{Domains: domains.items}
		case certFile.set != keyFile.set:
			return errors.New("argument --certificate and --private-key: Must be specified together.")
		case certFile.set:
			var err error
			if cert.Certificate, err = readTextFile(certFile.value); err != nil {
				return err
			}
			if cert.PrivateKey, err = readTextFile(keyFile.value); err != nil {
				return err
			}
		default:
			return errors.New("Exactly one of (--certificate | --domains) must be specified.")
		}
		return s.insert(rt, t.loc, &cert, t.name)
	})
	f := cmd.Flags()
	certFile = addString(f, "certificate", "PEM file of the certificate chain, leaf first.")
	keyFile = addString(f, "private-key", "PEM file of the certificate's private key.")
	domains = addList(f, "domains", "Domains of a managed certificate, which Meridian obtains and renews.")
	description = addString(f, "description", "An optional, textual description for the SSL certificate.")
	return cmd
}

func readTextFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("Unable to read file [%s]: %v", path, err)
	}
	return string(data), nil
}
