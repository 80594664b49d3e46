package certs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"meridian/internal/store"
)

// The development CA lives in etcd, so that every API process of a deployment issues
// MANAGED certificates from the same root and any of them can tell clients which root
// to trust, whichever host it runs on. (Its key sits beside the certificates' own keys,
// which etcd holds already.)

// sharedCAKey is the etcd key of the development CA.
const sharedCAKey = "ca/dev"

type storedCA struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// LoadOrCreateSharedCA returns the deployment's development CA, creating it on first
// use. A CA already in legacyDir (a data directory of `meridian serve` from before the
// CA lived in etcd) becomes the shared one, so roots clients trust keep working.
func LoadOrCreateSharedCA(ctx context.Context, st *store.Store, legacyDir string, now time.Time) (*DevCA, error) {
	if ca, err := loadSharedCA(ctx, st); !errors.Is(err, store.ErrNotFound) {
		return ca, err
	}
	var candidate *DevCA
	var err error
	if legacyDir != "" {
		candidate, err = loadDevCA(legacyDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if candidate == nil {
		if candidate, err = newDevCA(now); err != nil {
			return nil, err
		}
	}
	keyPEM, err := candidate.keyPEM()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(storedCA{Cert: string(candidate.certPEM), Key: string(keyPEM)})
	if err != nil {
		return nil, err
	}
	_, err = st.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: sharedCAKey, Want: store.Absent}}, Puts: map[string][]byte{sharedCAKey: data}})
	var lost *store.ConditionFailed
	if errors.As(err, &lost) {
		return loadSharedCA(ctx, st) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("certs: store the development CA: %w", err)
	}
	return candidate, nil
}

func loadSharedCA(ctx context.Context, st *store.Store) (*DevCA, error) {
	kv, err := st.Get(ctx, sharedCAKey)
	if err != nil {
		return nil, err
	}
	var s storedCA
	if err := json.Unmarshal(kv.Value, &s); err != nil {
		return nil, fmt.Errorf("certs: the stored development CA is corrupt: %w", err)
	}
	return parseDevCA([]byte(s.Cert), []byte(s.Key))
}

// SharedRootPEM is the root certificate of the deployment's development CA, for the
// API to hand to clients; store.ErrNotFound before any API has started.
func SharedRootPEM(ctx context.Context, st *store.Store) ([]byte, error) {
	ca, err := loadSharedCA(ctx, st)
	if err != nil {
		return nil, err
	}
	return ca.certPEM, nil
}
