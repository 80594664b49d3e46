// Package cli implements `meridian compute …`, `meridian run …` (deploy, services,
// revisions) and `meridian config …` in gcloud's grammar, so that a gcloud script
// runs with `gcloud` replaced by `meridian`. The commands talk REST to Meridian's API,
// which speaks Compute Engine v1 and Cloud Run's Knative API, and print what gcloud
// prints: "Created [selfLink]." on stderr and the new resource as a row of its list
// table, describe as YAML, list as gcloud's table, errors as
// "ERROR: (meridian.compute.backend-services.create) Could not fetch resource: …",
// and any --format expression through the format package. `run deploy`, `run
// services replace` and `update-traffic` wait, unless --async, until the service's
// status says Ready (True or False) for its latest generation.
//
// # Layout
//
// NewCommands binds fresh command trees to an Env (streams, environment, the
// configuration file), so tests run commands in-process; nothing is kept at package
// level. A command's body gets a session: the configuration resolved in gcloud's
// order (flag, environment, file, default), a small REST client, and the output
// helpers. The client turns GCP's error JSON into *apiError and waits on operations
// (operations.wait, global or regional) until they are DONE.
//
// What is the same for every Compute collection is built from a resourceType (its
// collection, scope flags, default list format): describe, list and delete. Create
// and update commands map their flags to the api package's types explicitly, one
// resource per file. Updates read the resource, change it and PUT it back with its
// fingerprint, or use GCP's dedicated methods (setUrlMap, setSslCertificates,
// setTarget, attachNetworkEndpoints) where GCP has them.
//
// Flags follow gcloud: --[no-]NAME pairs, lists ("a,b" or "^:^a,b:c"), dictionaries
// ("k=v,…"), durations ("1h", "3600s", "3600") and choices accepted in any case. Each
// flag value records whether it was given, so updates change only what was given.
// Every parser of user input is fuzzed.
package cli
