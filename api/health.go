package api

// HealthReportsPrefix is where every edge publishes, under its membership lease, what
// it knows of the health of each backend it serves: health/edges/{edge id}. The API's
// backendServices.getHealth reads these reports.
const HealthReportsPrefix = "health/edges/"

// HealthReport is one edge's view of the backends it balances.
type HealthReport struct {
	Edge     string `json:"edge"`
	Location string `json:"location"`
	// Services maps a backend service's path to its backends' health, by NEG path.
	Services map[string]map[string]BackendHealth `json:"services"`
}

// BackendHealth is an edge's view of one backend (NEG) of a backend service.
type BackendHealth struct {
	// State is GCP's healthState: HEALTHY or UNHEALTHY; DRAINING when capacityScaler
	// is 0.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// EjectedUntil is when outlier detection lets the backend back (RFC 3339), if ejected.
	EjectedUntil string  `json:"ejectedUntil,omitempty"`
	RTTMillis    float64 `json:"rttMs,omitempty"`
	Requests     int64   `json:"requests,omitempty"`
}
