package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultEndpoint is where `meridian serve` listens unless told otherwise.
const DefaultEndpoint = "http://127.0.0.1:9610"

// DefaultProject is the project used when none is configured.
const DefaultProject = "default"

// Config is the CLI's configuration file, which `meridian serve` writes:
// {"endpoint":"http://127.0.0.1:9610","project":"default","token":""}.
type Config struct {
	Endpoint string `json:"endpoint,omitempty"`
	Project  string `json:"project,omitempty"`
	Token    string `json:"token,omitempty"`
}

// DefaultConfigPath is the configuration file: $MERIDIAN_CONFIG, else
// $XDG_CONFIG_HOME/meridian/config.json, else config.json under os.UserConfigDir().
// getenv nil means os.Getenv.
func DefaultConfigPath(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("MERIDIAN_CONFIG"); p != "" {
		return p
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			dir = "."
		}
	}
	return filepath.Join(dir, "meridian", "config.json")
}

// ReadConfig reads the configuration file; a missing file is an empty Config.
func ReadConfig(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading the configuration: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("the configuration file %s is not valid JSON: %w", path, err)
	}
	return c, nil
}

// WriteConfig replaces the configuration file atomically (write, then rename), readable
// by its owner only since it may hold a token. It creates the directory if needed.
func WriteConfig(path string, c Config) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the configuration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	return nil
}

// UpdateConfig reads the configuration, lets change modify it and writes it back, so
// that a writer of one field (serve writing the endpoint) keeps the others (a token).
func UpdateConfig(path string, change func(*Config)) error {
	c, err := ReadConfig(path)
	if err != nil {
		return err
	}
	change(&c)
	return WriteConfig(path, c)
}

// settings are the resolved configuration of one command.
type settings struct {
	endpoint string
	project  string
	token    string
}

// resolveSettings applies the precedence: flag, then environment, then the file, then
// the defaults.
func (a *app) resolveSettings() (settings, error) {
	cfg, err := ReadConfig(a.env.ConfigPath)
	if err != nil {
		return settings{}, err
	}
	getenv := a.env.Getenv
	return settings{
		endpoint: firstNonEmpty(a.flags.endpoint, getenv("MERIDIAN_API_ENDPOINT"), cfg.Endpoint, DefaultEndpoint),
		project:  firstNonEmpty(a.flags.project, getenv("MERIDIAN_PROJECT"), getenv("CLOUDSDK_CORE_PROJECT"), cfg.Project, DefaultProject),
		token:    firstNonEmpty(getenv("MERIDIAN_API_TOKEN"), cfg.Token),
	}, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
