package api

import (
	"fmt"
	"strconv"
	"strings"
)

// KnativeService is a serving.knative.dev/v1 Service as Cloud Run's Admin API v1 takes
// it. Fields Meridian does not interpret yet are kept, so a replace round-trips.
type KnativeService struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   ObjectMeta     `json:"metadata"`
	Spec       ServiceSpec    `json:"spec"`
	Status     *ServiceStatus `json:"status,omitempty"`
}

// ObjectMeta is Kubernetes' object metadata, the part Cloud Run uses.
type ObjectMeta struct {
	Name              string            `json:"name,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	SelfLink          string            `json:"selfLink,omitempty"`
}

// ServiceSpec is a Service's desired state: the revision template and traffic.
type ServiceSpec struct {
	Template RevisionTemplate `json:"template"`
	Traffic  []TrafficTarget  `json:"traffic,omitempty"`
}

// RevisionTemplate describes the revisions a Service creates.
type RevisionTemplate struct {
	Metadata ObjectMeta   `json:"metadata,omitempty"`
	Spec     RevisionSpec `json:"spec"`
}

// RevisionSpec is the container contract of a revision.
type RevisionSpec struct {
	ContainerConcurrency *int64      `json:"containerConcurrency,omitempty"`
	TimeoutSeconds       *int64      `json:"timeoutSeconds,omitempty"`
	ServiceAccountName   string      `json:"serviceAccountName,omitempty"`
	Containers           []Container `json:"containers"`
	Volumes              []any       `json:"volumes,omitempty"`
	// NodeSelector (Cloud Run's GPU type), RuntimeClassName, EnableServiceLinks and
	// ImagePullSecrets are Knative fields gcloud sends; they are kept, not acted on.
	NodeSelector       map[string]string `json:"nodeSelector,omitempty"`
	RuntimeClassName   string            `json:"runtimeClassName,omitempty"`
	EnableServiceLinks *bool             `json:"enableServiceLinks,omitempty"`
	ImagePullSecrets   []any             `json:"imagePullSecrets,omitempty"`
}

// Container is a revision's container.
type Container struct {
	Name           string                `json:"name,omitempty"`
	Image          string                `json:"image"`
	Command        []string              `json:"command,omitempty"`
	Args           []string              `json:"args,omitempty"`
	Env            []EnvVar              `json:"env,omitempty"`
	Ports          []ContainerPort       `json:"ports,omitempty"`
	Resources      *ResourceRequirements `json:"resources,omitempty"`
	WorkingDir     string                `json:"workingDir,omitempty"`
	StartupProbe   *Probe                `json:"startupProbe,omitempty"`
	LivenessProbe  *Probe                `json:"livenessProbe,omitempty"`
	ReadinessProbe *Probe                `json:"readinessProbe,omitempty"`
	VolumeMounts   []any                 `json:"volumeMounts,omitempty"`
}

// EnvVar is one environment variable; valueFrom (secrets) is kept but not resolved.
type EnvVar struct {
	Name      string `json:"name"`
	Value     string `json:"value,omitempty"`
	ValueFrom any    `json:"valueFrom,omitempty"`
}

// ContainerPort names the port the container listens on (name http1 or h2c).
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int64  `json:"containerPort,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
}

// ResourceRequirements are CPU and memory limits.
type ResourceRequirements struct {
	Limits   map[string]string `json:"limits,omitempty"`
	Requests map[string]string `json:"requests,omitempty"`
}

// TrafficTarget sends a percentage of traffic (or a tag) to a revision.
type TrafficTarget struct {
	RevisionName   string `json:"revisionName,omitempty"`
	LatestRevision *bool  `json:"latestRevision,omitempty"`
	Percent        int64  `json:"percent,omitempty"`
	Tag            string `json:"tag,omitempty"`
	URL            string `json:"url,omitempty"`
}

// ServiceStatus is Knative's observed state of a Service.
type ServiceStatus struct {
	ObservedGeneration        int64           `json:"observedGeneration,omitempty"`
	Conditions                []Condition     `json:"conditions,omitempty"`
	LatestCreatedRevisionName string          `json:"latestCreatedRevisionName,omitempty"`
	LatestReadyRevisionName   string          `json:"latestReadyRevisionName,omitempty"`
	URL                       string          `json:"url,omitempty"`
	Address                   *ServiceAddress `json:"address,omitempty"`
	Traffic                   []TrafficTarget `json:"traffic,omitempty"`
}

// ServiceAddress is the Service's in-cluster address.
type ServiceAddress struct {
	URL string `json:"url,omitempty"`
}

// Condition is a Knative status condition (Ready, ConfigurationsReady, RoutesReady).
type Condition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
	Severity           string `json:"severity,omitempty"`
}

// KnativeRevision is an immutable snapshot of a Service's template, created by every
// change of spec.template.
type KnativeRevision struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   ObjectMeta      `json:"metadata"`
	Spec       RevisionSpec    `json:"spec"`
	Status     *RevisionStatus `json:"status,omitempty"`
}

// RevisionStatus is a revision's observed state.
type RevisionStatus struct {
	ObservedGeneration int64       `json:"observedGeneration,omitempty"`
	Conditions         []Condition `json:"conditions,omitempty"`
	LogURL             string      `json:"logUrl,omitempty"`
	ImageDigest        string      `json:"imageDigest,omitempty"`
}

// Knative constants.
const (
	KnativeAPIVersion  = "serving.knative.dev/v1"
	MinScaleAnnotation = "autoscaling.knative.dev/minScale"
	MaxScaleAnnotation = "autoscaling.knative.dev/maxScale"
	// ServiceLabel and ConfigurationLabel name a revision's service.
	ServiceLabel       = "serving.knative.dev/service"
	ConfigurationLabel = "serving.knative.dev/configuration"
	// ConfigurationGenerationLabel is the service generation that created a revision.
	ConfigurationGenerationLabel = "serving.knative.dev/configurationGeneration"
	// CreatorAnnotation and LastModifierAnnotation name who created a service or
	// revision and who last changed a service (gcloud prints them as "deployed by").
	CreatorAnnotation      = "serving.knative.dev/creator"
	LastModifierAnnotation = "serving.knative.dev/lastModifier"

	DefaultContainerConcurrency = 80
	DefaultTimeoutSeconds       = 300
	DefaultContainerPort        = 8080
	// DefaultMaxScale is Cloud Run's default maximum number of instances.
	DefaultMaxScale = 100

	maxTimeoutSeconds = 3600
	maxConcurrency    = 1000
)

// SetDefaults fills what Cloud Run fills in a written service: the traffic split (all to
// the latest revision), and the template's concurrency, timeout and container port.
// Defaults are applied before templates are compared, so replacing a service with the
// same YAML does not make a new revision.
func (s *KnativeService) SetDefaults() {
	if len(s.Spec.Traffic) == 0 {
		// Knative's default route, which clients read back as the current split
		// (gcloud's update-traffic refuses a service without one).
		s.Spec.Traffic = []TrafficTarget{{LatestRevision: ptrTrue(), Percent: 100}}
	}
	rs := &s.Spec.Template.Spec
	if rs.ContainerConcurrency == nil {
		v := int64(DefaultContainerConcurrency)
		if len(rs.Containers) == 1 && rs.Containers[0].Resources != nil && cpuBelowOne(rs.Containers[0].Resources.Limits["cpu"]) {
			v = 1 // Cloud Run's default for less than one CPU
		}
		rs.ContainerConcurrency = &v
	}
	if rs.TimeoutSeconds == nil {
		v := int64(DefaultTimeoutSeconds)
		rs.TimeoutSeconds = &v
	}
	if len(rs.Containers) == 1 {
		c := &rs.Containers[0]
		if len(c.Ports) == 0 {
			c.Ports = []ContainerPort{{Name: "http1", ContainerPort: DefaultContainerPort}}
		}
		for i := range c.Ports {
			if c.Ports[i].Name == "" {
				c.Ports[i].Name = "http1"
			}
			if c.Ports[i].ContainerPort == 0 {
				c.Ports[i].ContainerPort = DefaultContainerPort
			}
		}
	}
}

// cpuBelowOne reports whether a Kubernetes CPU quantity ("500m", "0.5", "1", "2") is
// less than one CPU.
func cpuBelowOne(q string) bool {
	if m, ok := strings.CutSuffix(q, "m"); ok {
		v, err := strconv.ParseInt(m, 10, 64)
		return err == nil && v < 1000
	}
	v, err := strconv.ParseFloat(q, 64)
	return err == nil && v < 1
}

// Scale returns the revision's instance bounds from its annotations: min 0 and max
// DefaultMaxScale unless set (a maxScale of 0 means the default).
func Scale(annotations map[string]string) (min, max int) {
	min, max = 0, DefaultMaxScale
	if v, err := strconv.Atoi(annotations[MinScaleAnnotation]); err == nil && v >= 0 {
		min = v
	}
	if v, err := strconv.Atoi(annotations[MaxScaleAnnotation]); err == nil && v > 0 {
		max = v
	}
	if min > max {
		max = min
	}
	return min, max
}

// ResolvedTraffic is one resolved traffic target: a revision, its share, and its tag.
type ResolvedTraffic struct {
	Revision string
	Percent  int64
	Tag      string
	Latest   bool
}

// ResolveTraffic turns a service's traffic spec into revisions, resolving
// latestRevision to latestReady. No spec means 100% to the latest ready revision.
func ResolveTraffic(spec []TrafficTarget, latestReady string) []ResolvedTraffic {
	if len(spec) == 0 {
		spec = []TrafficTarget{{LatestRevision: ptrTrue(), Percent: 100}}
	}
	out := make([]ResolvedTraffic, 0, len(spec))
	for _, t := range spec {
		r := ResolvedTraffic{Revision: t.RevisionName, Percent: t.Percent, Tag: t.Tag}
		if t.LatestRevision != nil && *t.LatestRevision {
			r.Revision, r.Latest = latestReady, true
		}
		out = append(out, r)
	}
	return out
}

func ptrTrue() *bool { t := true; return &t }

// Validate checks a Knative Service as Cloud Run does: apiVersion and kind, a valid
// name, exactly one container with an image, and sane concurrency, timeout, scale
// annotations and traffic.
func (s *KnativeService) Validate() error {
	if s.APIVersion != KnativeAPIVersion {
		return Invalid("apiVersion", s.APIVersion, "Must be "+KnativeAPIVersion+".")
	}
	if s.Kind != "Service" {
		return Invalid("kind", s.Kind, "Must be Service.")
	}
	if err := ValidateName("metadata.name", s.Metadata.Name); err != nil {
		return err
	}
	rs := s.Spec.Template.Spec
	if len(rs.Containers) != 1 {
		return Invalid("spec.template.spec.containers", len(rs.Containers), "Exactly one container is supported.")
	}
	c := rs.Containers[0]
	if c.Image == "" {
		return Required("spec.template.spec.containers[0].image")
	}
	if len(c.Ports) > 1 {
		return Invalid("spec.template.spec.containers[0].ports", len(c.Ports), "At most one container port is allowed.")
	}
	for _, p := range c.Ports {
		if err := firstError(validateRange("spec.template.spec.containers[0].ports[0].containerPort", p.ContainerPort, 0, 65535),
			oneOf("spec.template.spec.containers[0].ports[0].name", p.Name, "http1", "h2c")); err != nil {
			return err
		}
	}
	if err := firstError(validateProbe("spec.template.spec.containers[0].startupProbe", c.StartupProbe),
		validateProbe("spec.template.spec.containers[0].livenessProbe", c.LivenessProbe),
		validateProbe("spec.template.spec.containers[0].readinessProbe", c.ReadinessProbe),
		validateResources(c.Resources)); err != nil {
		return err
	}
	if rs.ContainerConcurrency != nil {
		if err := validateRange("spec.template.spec.containerConcurrency", *rs.ContainerConcurrency, 0, maxConcurrency); err != nil {
			return err
		}
	}
	if rs.TimeoutSeconds != nil {
		if err := validateRange("spec.template.spec.timeoutSeconds", *rs.TimeoutSeconds, 1, maxTimeoutSeconds); err != nil {
			return err
		}
	}
	if err := validateScale(s.Spec.Template.Metadata.Annotations); err != nil {
		return err
	}
	return s.validateTraffic()
}

func validateScale(ann map[string]string) error {
	var bounds [2]int64
	for i, key := range []string{MinScaleAnnotation, MaxScaleAnnotation} {
		v, ok := ann[key]
		if !ok {
			continue
		}
		if _, err := fmt.Sscanf(v, "%d", &bounds[i]); err != nil || bounds[i] < 0 || fmt.Sprint(bounds[i]) != v {
			return Invalid("spec.template.metadata.annotations["+key+"]", v, "Must be a non-negative integer.")
		}
	}
	if _, hasMax := ann[MaxScaleAnnotation]; hasMax && bounds[1] > 0 && bounds[0] > bounds[1] {
		return Invalid("spec.template.metadata.annotations["+MinScaleAnnotation+"]", bounds[0], "Must not exceed maxScale.")
	}
	return nil
}

func (s *KnativeService) validateTraffic() error {
	if len(s.Spec.Traffic) == 0 {
		return nil
	}
	total := int64(0)
	tags := map[string]bool{}
	for i, t := range s.Spec.Traffic {
		f := fmt.Sprintf("spec.traffic[%d]", i)
		latest := t.LatestRevision != nil && *t.LatestRevision
		if latest == (t.RevisionName != "") {
			return Conflict(f, "Invalid value for field '"+f+"': exactly one of revisionName and latestRevision=true must be set.")
		}
		if err := validateRange(f+".percent", t.Percent, 0, 100); err != nil {
			return err
		}
		total += t.Percent
		if t.Tag != "" {
			if err := ValidateName(f+".tag", t.Tag); err != nil {
				return err
			}
			if tags[t.Tag] {
				return Invalid(f+".tag", t.Tag, "Duplicate tag.")
			}
			tags[t.Tag] = true
		}
	}
	if total != 100 {
		return Invalid("spec.traffic", total, "Traffic percentages must add up to 100.")
	}
	return nil
}

// RevisionName is the name of a service's n-th revision when the template does not
// name it, in Cloud Run's form "<service>-<00001>-<suffix>".
func RevisionName(service string, generation int64, suffix string) string {
	return fmt.Sprintf("%s-%05d-%s", service, generation, strings.ToLower(suffix))
}
