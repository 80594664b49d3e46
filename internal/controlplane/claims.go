package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"meridian/api"
	"meridian/internal/store"
)

// prepare does the insert-time work that needs the store: it checks a NEG's scope,
// allocates or claims an address's IP, and resolves a forwarding rule's IPAddress and
// claims its address and port range. Claims are keys written in the same transaction
// with an Absent condition, so two writers can never take the same IP or binding.
func (s *Server) prepare(ctx context.Context, rt route, res api.Resource, path api.ResourcePath, change *store.Change) error {
	switch r := res.(type) {
	case *api.NetworkEndpointGroup:
		return r.ValidateScope(rt.region != "")
	case *api.Address:
		return s.claimAddress(ctx, r, path, change)
	case *api.ForwardingRule:
		return s.claimForwardingRule(ctx, rt, r, path, change)
	}
	return nil
}

func (s *Server) claimAddress(ctx context.Context, a *api.Address, path api.ResourcePath, change *store.Change) error {
	if a.Address == "" {
		ip, err := s.freeAddress(ctx)
		if err != nil {
			return err
		}
		a.Address = ip
	}
	addr, err := netip.ParseAddr(a.Address)
	if err != nil {
		return api.Invalid("resource.address", a.Address, "Must be an IP address.")
	}
	a.Address = addr.String()
	claim(change, ipKey(a.Address), path.String())
	return nil
}

// freeAddress returns the first address of the pool no resource holds. A concurrent
// insert may take it first; the claim's condition then fails and the insert retries.
func (s *Server) freeAddress(ctx context.Context) (string, error) {
	kvs, _, err := s.store.List(ctx, "ips/", "", 0)
	if err != nil {
		return "", err
	}
	taken := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		taken[kv.Key[len("ips/"):]] = true
	}
	pool := s.cfg.AddressPool.Masked()
	for ip := pool.Addr().Next(); pool.Contains(ip); ip = ip.Next() {
		if !taken[ip.String()] && pool.Contains(ip.Next()) { // skip the broadcast address
			return ip.String(), nil
		}
	}
	return "", &apiError{429, "quotaExceeded", fmt.Sprintf("No free address is left in the address pool %s.", pool)}
}

// claimForwardingRule resolves IPAddress (empty: an ephemeral address from the pool; a
// literal: kept, and linked to the address resource that reserved it; a reference: the
// address resource's IP) and claims the IP and port range.
func (s *Server) claimForwardingRule(ctx context.Context, rt route, f *api.ForwardingRule, path api.ResourcePath, change *store.Change) error {
	switch addr, err := netip.ParseAddr(f.IPAddress); {
	case f.IPAddress == "":
		ip, err := s.freeAddress(ctx)
		if err != nil {
			return err
		}
		f.IPAddress = ip
		claim(change, ipKey(ip), path.String())
	case err == nil:
		f.IPAddress = addr.String()
		if err := s.linkAddress(ctx, f.IPAddress, path, change); err != nil {
			return err
		}
	default:
		ap, err := parseRef(f.IPAddress, rt, []string{"addresses"})
		if err != nil {
			return api.Invalid("resource.IPAddress", f.IPAddress, "Must be an IP address or an address resource's URL.")
		}
		a, _, err := s.load(ctx, s.kinds["addresses"], ap)
		if err != nil {
			return err
		}
		f.IPAddress = a.(*api.Address).Address
		if err := s.linkAddress(ctx, f.IPAddress, path, change); err != nil {
			return err
		}
	}
	if _, _, err := api.ParsePortRange(f.PortRange); err == nil {
		claim(change, bindKey(f.IPAddress, f.PortRange), path.String())
	}
	return nil
}

// linkAddress records that a forwarding rule uses the address resource that reserved
// ip, if any, so the address shows it as a user and cannot be deleted under it.
func (s *Server) linkAddress(ctx context.Context, ip string, path api.ResourcePath, change *store.Change) error {
	kv, err := s.store.Get(ctx, ipKey(ip))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	owner := string(kv.Value)
	if p, err := api.ParseResourcePath(owner, ""); err != nil || p.Collection != "addresses" {
		return claimError(ipKey(ip), owner)
	}
	change.Conditions = append(change.Conditions, store.Condition{Key: ipKey(ip), Want: kv.ModRevision})
	change.Conditions = append(change.Conditions, store.Condition{Key: resKey(owner), Want: store.Present})
	change.Puts[refKey(owner, path.String())] = nil
	return nil
}

func claim(change *store.Change, key, owner string) {
	change.Conditions = append(change.Conditions, store.Condition{Key: key, Want: store.Absent})
	change.Puts[key] = []byte(owner)
}

// keepClaims refuses changes to the fields claims are made from: GCP does not let a
// patch move a forwarding rule or an address either.
func (s *Server) keepClaims(cur, next api.Resource) error {
	if c, ok := cur.(*api.ForwardingRule); ok {
		n := next.(*api.ForwardingRule)
		if n.IPAddress == "" {
			n.IPAddress = c.IPAddress
		}
		if n.PortRange == "" {
			n.PortRange = c.PortRange
		}
		n.SetDefaults()
		if n.IPAddress != c.IPAddress || n.PortRange != c.PortRange {
			return errInvalid("Invalid value for field 'resource': the IPAddress and portRange of a forwarding rule cannot be changed; create a new forwarding rule instead.")
		}
	}
	return nil
}

// releaseClaims adds to a delete the removal of what the resource claimed: its IP (an
// address, or a forwarding rule's ephemeral IP), its binding, and its link to an address.
func (s *Server) releaseClaims(ctx context.Context, res api.Resource, path api.ResourcePath, change *store.Change) error {
	switch r := res.(type) {
	case *api.Address:
		change.Deletes = append(change.Deletes, ipKey(r.Address))
	case *api.ForwardingRule:
		change.Deletes = append(change.Deletes, bindKey(r.IPAddress, r.PortRange))
		kv, err := s.store.Get(ctx, ipKey(r.IPAddress))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if owner := string(kv.Value); owner == path.String() {
			change.Deletes = append(change.Deletes, ipKey(r.IPAddress))
		} else {
			change.Deletes = append(change.Deletes, refKey(owner, path.String()))
		}
	}
	return nil
}
